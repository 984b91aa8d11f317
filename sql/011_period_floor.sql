-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 11: a new period that a rollback leaves keeps the period before closed.
--
-- A take that enters a new period records it in pez.sequences (undone if its transaction rolls
-- back) and starts the counter again with setval (never undone). When that transaction did not
-- commit (a connection cut or a statement timeout before the commit, a reserve of several
-- sequences that failed at another one) and the database's clock was then in the period before
-- again (a failover to a standby whose clock lags, a clock stepped back), the period before went
-- on from the counter started again, and handed out its first numbers a second time.
--
-- So periods are judged by pez.period_clock(): pez.now(), or the start of the latest period a
-- take entered anew when now is behind it. That start is kept in the sequence pez._period_floor
-- (microseconds since 1970), raised before the counter starts again; setval is not undone by a
-- rollback, so the floor stays with the counter. A take after a rollback then enters the new
-- period again (the counter starts again once more: none of its numbers had been handed out).
-- For every periodic sequence the database's clock no longer goes back behind a period start some
-- take has reached; as long as the clock only moves forward nothing changes.
--
-- pez.take_dated refuses a take that a new period could not serve before it enters that period,
-- so a refusal changes nothing, the floor included (version 7 put the counter back instead).
--
-- A pezd role that did not run this file itself needs nothing more than for version 10: the
-- floor is read and raised by functions that run with their owner's rights. Running this file
-- again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE SEQUENCE IF NOT EXISTS pez._period_floor AS bigint MINVALUE 0 START 0 NO CYCLE;

-- The clock a periodic sequence's period is judged by: pez.now(), or the floor if now is behind.
CREATE OR REPLACE FUNCTION pez.period_clock() RETURNS timestamptz
    LANGUAGE sql
    VOLATILE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN f.is_called THEN greatest(pez.now(), 'epoch'::timestamptz + f.last_value * interval '1 microsecond')
                ELSE pez.now() END
      FROM pez._period_floor f
$$;

-- The first day of the period (yearly, monthly or daily, in zone) that holds t.
CREATE OR REPLACE FUNCTION pez.period_start(period text, zone text, t timestamptz) RETURNS date
    LANGUAGE sql
    STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT date_trunc(CASE period WHEN 'yearly' THEN 'year' WHEN 'monthly' THEN 'month' ELSE 'day' END,
                      t AT TIME ZONE zone)::date
$$;

-- Raises the floor to at, if it is below. Under a lock of its own, taken and given back within
-- this call (not held to the end of the transaction, which may go on to lock other sequences):
-- two takers raising it at once cannot leave the lower value last.
CREATE OR REPLACE FUNCTION pez.raise_period_floor(at timestamptz) RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    micros bigint := (extract(epoch FROM at) * 1000000)::bigint;
BEGIN
    IF micros <= (SELECT CASE WHEN f.is_called THEN f.last_value ELSE -1 END FROM pez._period_floor f) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_lock(7365978, 11);
    BEGIN
        IF micros > (SELECT CASE WHEN f.is_called THEN f.last_value ELSE -1 END FROM pez._period_floor f) THEN
            PERFORM setval('pez._period_floor', micros, true);
        END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock(7365978, 11);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(7365978, 11);
END
$$;
-- Only through pez.advance_period: a role that takes numbers cannot move every period ahead.
REVOKE ALL ON FUNCTION pez.raise_period_floor(timestamptz) FROM PUBLIC;

-- As in version 7, with the period judged by pez.period_clock(), and the floor raised before a
-- new period is entered (pez.enter_period then starts the counter again).
CREATE OR REPLACE FUNCTION pez.advance_period(seq regclass, OUT entered boolean, OUT period date,
                                              OUT valid_for double precision)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    entry record;
    t timestamptz;
    p date;
    ends timestamptz;
BEGIN
    entered := false;
    SELECT s.name, s.period, s.time_zone INTO entry
      FROM pez.sequences s JOIN pg_class c ON c.relname = s.name
     WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace;
    IF NOT FOUND OR entry.period IS NULL THEN
        entered := NULL;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    -- Read under the lock: another taker may have entered a period meanwhile.
    SELECT s.current_period INTO period FROM pez.sequences s WHERE s.name = entry.name;
    t := pez.period_clock();
    p := pez.period_start(entry.period, entry.time_zone, t);
    IF period IS NULL OR p > period THEN
        entered := period IS NOT NULL;
        IF entered THEN
            PERFORM pez.raise_period_floor(p::timestamp AT TIME ZONE entry.time_zone);
        END IF;
        period := p;
        UPDATE pez.sequences SET current_period = p WHERE name = entry.name;
    END IF;
    ends := (period::timestamp + ('1 ' || CASE entry.period WHEN 'yearly' THEN 'year' WHEN 'monthly' THEN 'month'
                                                             ELSE 'day' END)::interval) AT TIME ZONE entry.time_zone;
    valid_for := greatest(extract(epoch FROM ends - t), 0);
END
$$;

-- As in version 7, but a take that a new period could not serve is refused before the period is
-- entered, so the refusal changes nothing.
CREATE OR REPLACE FUNCTION pez.take_dated(seq regclass, n integer, OUT period date, OUT numbers bigint[])
    LANGUAGE plpgsql
    AS $$
DECLARE
    opts record;
    left_over numeric;
    periodic boolean;
    entered_period date;
    due date;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pez.durable();
    SELECT s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle INTO opts
      FROM pg_catalog.pg_sequence s WHERE s.seqrelid = seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
    END IF;
    periodic := EXISTS (SELECT 1 FROM pez.sequences s JOIN pg_catalog.pg_class c ON c.relname = s.name
                         WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace AND s.period IS NOT NULL);
    -- More than one pass of a cycling sequence: refused before anything changes (a periodic one
    -- has not entered its period yet).
    IF opts.seqcycle AND n > pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1 THEN
        RAISE EXCEPTION 'pez.take: % holds % numbers before it starts over, fewer than the % asked for',
            seq, pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1, n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF opts.seqcycle AND NOT periodic THEN
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pez.lock_key(seq));
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = seq) THEN
            RAISE EXCEPTION 'sequence % was dropped', seq USING ERRCODE = 'undefined_table';
        END IF;
    ELSE
        -- Alone: a take of a periodic sequence may start a new period (setval), and one without
        -- cycle checks what is left.
        PERFORM pg_catalog.pg_advisory_xact_lock(pez.lock_key(seq));
        IF NOT opts.seqcycle THEN
            -- What is left: from the start on, if the take would enter a new period; too few, and
            -- the period is not entered.
            IF periodic THEN
                SELECT s.current_period, pez.period_start(s.period, s.time_zone, pez.period_clock())
                  INTO entered_period, due
                  FROM pez.sequences s JOIN pg_catalog.pg_class c ON c.relname = s.name
                 WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace;
            END IF;
            IF entered_period IS NOT NULL AND due > entered_period THEN
                left_over := pg_catalog.div(CASE WHEN opts.seqincrement > 0 THEN opts.seqmax::numeric - opts.seqstart
                                                 ELSE opts.seqstart::numeric - opts.seqmin END,
                                            abs(opts.seqincrement::numeric)) + 1;
            ELSE
                left_over := pez.numbers_left(seq);
            END IF;
            IF left_over < n THEN
                RAISE EXCEPTION 'pez.take: % has % numbers left and does not cycle, fewer than the % asked for',
                    seq, left_over, n USING ERRCODE = 'sequence_generator_limit_exceeded';
            END IF;
        END IF;
        IF periodic THEN
            SELECT e.period INTO period FROM pez.enter_period(seq) e;
        END IF;
    END IF;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
    numbers := ARRAY(SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n));
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (11, 'period_floor') ON CONFLICT (version) DO NOTHING;

COMMIT;
