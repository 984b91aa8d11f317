-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 7: formatted and periodic sequences.
--
-- A formatted sequence prints each number through a template (INV-{YYYY}-{n:06}); a periodic
-- one starts again at its start each year, month or day, in its time zone, as judged by the
-- database's clock (pez.now()) in the transaction that takes the numbers, so that every pezd
-- agrees at the boundary. pez.sequences keeps the template, the period, the time zone, the check
-- algorithm and the period the counter is in now. pezd checks a template before it creates the
-- sequence (and again when it reads the catalog); the checks here keep out what could never
-- work.
--
--   SELECT pez.create_sequence('invoices', min_value => 1, max_value => 999999, cycle => false,
--                              format => 'INV-{YYYY}-{n:06}', period => 'yearly',
--                              time_zone => 'Europe/Berlin');
--   SELECT * FROM pez.take_dated('pez.invoices', 2);      -- 2026-01-01 | {1,2}
--
-- Taking numbers: pez.take_dated and pez.reserve_dated answer, beside the numbers, the period
-- they belong to (NULL for a sequence without period), and pez.reserve_dated how many seconds
-- the period has left, so a pezd in block mode drops what it holds of a period once it is over.
-- pez.take and pez.reserve do the same and answer as before; every taker of a periodic sequence
-- starts the new period the same way (pez.enter_period), so no number of a period is given twice.
--
-- Tests move "now" by replacing pez.now() (only its owner can); this file creates it only where
-- it is missing, so running the file again leaves a replaced one alone.
--
-- A pezd role that did not run this file itself needs nothing more than for version 6: the
-- period is recorded by pez.advance_period, which runs with its owner's rights, and the counter
-- started again with the taker's own. Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

ALTER TABLE pez.sequences
    ADD COLUMN IF NOT EXISTS format         text CHECK (length(format) BETWEEN 1 AND 200),
    ADD COLUMN IF NOT EXISTS period         text CHECK (period IN ('yearly', 'monthly', 'daily')),
    ADD COLUMN IF NOT EXISTS time_zone      text,
    ADD COLUMN IF NOT EXISTS check_digits   text CHECK (check_digits IN ('luhn', 'damm', 'mod97')),
    ADD COLUMN IF NOT EXISTS current_period date;

-- The database's notion of now for periods. A function of its own so that tests can move it.
DO $migration$
BEGIN
    IF to_regprocedure('pez.now()') IS NULL THEN
        CREATE FUNCTION pez.now() RETURNS timestamptz
            LANGUAGE sql VOLATILE
            AS 'SELECT pg_catalog.clock_timestamp()';
    END IF;
END
$migration$;

-- Moves the period sequence seq is in to the one the database's clock says, if that is later,
-- and answers it: entered is true when it moved on from an earlier one (the counter must then
-- start again), valid_for the seconds until it ends. NULLs for a sequence without period. Runs
-- with its owner's rights, as the roles that take numbers may only read pez.sequences; it moves
-- the period only to the one pez.now() says, never to one a caller names.
CREATE OR REPLACE FUNCTION pez.advance_period(seq regclass, OUT entered boolean, OUT period date,
                                              OUT valid_for double precision)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    entry record;
    unit text;
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
    unit := CASE entry.period WHEN 'yearly' THEN 'year' WHEN 'monthly' THEN 'month' ELSE 'day' END;
    t := pez.now();
    p := date_trunc(unit, t AT TIME ZONE entry.time_zone)::date;
    IF period IS NULL OR p > period THEN
        entered := period IS NOT NULL;
        period := p;
        UPDATE pez.sequences SET current_period = p WHERE name = entry.name;
    END IF;
    ends := (period::timestamp + ('1 ' || unit)::interval) AT TIME ZONE entry.time_zone;
    valid_for := greatest(extract(epoch FROM ends - t), 0);
END
$$;

-- The period sequence seq is in now, entered if the clock says a new one began: then the
-- counter starts again at the sequence's start (setval, with the caller's rights on the
-- sequence). Periods only move forward: a clock that went back, or a taker whose transaction
-- began before another one entered the new period, takes in the period entered last.
-- valid_for: seconds until the period ends. NULL and NULL for a sequence without period. Holds
-- the sequence's lock (as pez.reserve does) until the end of the transaction.
CREATE OR REPLACE FUNCTION pez.enter_period(seq regclass, OUT period date, OUT valid_for double precision)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    entered boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    SELECT a.entered, a.period, a.valid_for INTO entered, period, valid_for FROM pez.advance_period(seq) a;
    IF entered THEN
        PERFORM setval(seq, (SELECT seqstart FROM pg_sequence WHERE seqrelid = seq), false);
    END IF;
END
$$;

-- n numbers of seq, in the sequence's order, and the period they belong to. Durable as pez.take
-- of version 6: the whole transaction's commit is flushed before the numbers count.
CREATE OR REPLACE FUNCTION pez.take_dated(seq regclass, n integer, OUT period date, OUT numbers bigint[])
    LANGUAGE plpgsql
    AS $$
DECLARE
    opts record;
    left_over numeric;
    periodic boolean;
    was_value bigint;
    was_called boolean;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pez.durable();
    SELECT s.seqincrement, s.seqmin, s.seqmax, s.seqcycle INTO opts
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
        IF periodic THEN
            EXECUTE pg_catalog.format('SELECT last_value, is_called FROM %s', seq) INTO was_value, was_called;
            SELECT e.period INTO period FROM pez.enter_period(seq) e;
        END IF;
        IF NOT opts.seqcycle THEN
            left_over := pez.numbers_left(seq);
            IF left_over < n THEN
                IF periodic THEN
                    -- The refusal rolls back the period entered, but not the counter's start
                    -- again (setval is not transactional): the counter goes back too, or a clock
                    -- that went back into the period entered before would give its numbers again.
                    PERFORM pg_catalog.setval(seq, was_value, was_called);
                END IF;
                RAISE EXCEPTION 'pez.take: % has % numbers left and does not cycle, fewer than the % asked for',
                    seq, left_over, n USING ERRCODE = 'sequence_generator_limit_exceeded';
            END IF;
        END IF;
    END IF;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
    numbers := ARRAY(SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n));
END
$$;

-- As in version 6, and a periodic sequence's numbers from its current period.
CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    opts record;
    left_over numeric;
BEGIN
    -- A periodic sequence: through pez.take_dated, which enters its period. Any other: as in
    -- version 6 (pezd sends this statement for those: it costs less than pez.take_dated).
    IF EXISTS (SELECT 1 FROM pez.sequences s JOIN pg_catalog.pg_class c ON c.relname = s.name
                WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace AND s.period IS NOT NULL) THEN
        RETURN QUERY SELECT pg_catalog.unnest(t.numbers) FROM pez.take_dated(seq, n) t;
        RETURN;
    END IF;
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pez.durable();
    SELECT s.seqincrement, s.seqmin, s.seqmax, s.seqcycle INTO opts
      FROM pg_catalog.pg_sequence s WHERE s.seqrelid = seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
    END IF;
    IF opts.seqcycle THEN
        IF n > pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1 THEN
            RAISE EXCEPTION 'pez.take: % holds % numbers before it starts over, fewer than the % asked for',
                seq, pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1, n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pez.lock_key(seq));
        -- A drop that held the lock while this waited for it leaves nothing to take from.
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = seq) THEN
            RAISE EXCEPTION 'sequence % was dropped', seq USING ERRCODE = 'undefined_table';
        END IF;
    ELSE
        PERFORM pg_catalog.pg_advisory_xact_lock(pez.lock_key(seq));
        left_over := pez.numbers_left(seq);
        IF left_over < n THEN
            RAISE EXCEPTION 'pez.take: % has % numbers left and does not cycle, fewer than the % asked for',
                seq, left_over, n USING ERRCODE = 'sequence_generator_limit_exceeded';
        END IF;
    END IF;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
    RETURN QUERY SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n);
END
$$;

-- A block of up to n numbers of seq, as pez.reserve of version 6, and the period the block
-- belongs to with the seconds that period has left (NULL and NULL without period).
CREATE OR REPLACE FUNCTION pez.reserve_dated(seq regclass, n bigint,
                                             OUT first_value bigint, OUT last_value bigint, OUT increment bigint,
                                             OUT generation bigint, OUT period date, OUT valid_for double precision)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    opts pg_sequence%ROWTYPE;
    current_value bigint;
    called boolean;
    next_value numeric;
    room numeric;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'pez.reserve: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pez.durable();
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    SELECT * INTO opts FROM pg_sequence WHERE seqrelid = seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT e.period, e.valid_for INTO period, valid_for FROM pez.enter_period(seq) e;
    EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO current_value, called;

    next_value := current_value;
    IF called THEN
        next_value := next_value + opts.seqincrement;
    END IF;
    IF next_value > opts.seqmax OR next_value < opts.seqmin THEN
        IF NOT opts.seqcycle THEN
            RAISE EXCEPTION 'nextval: reached % value of sequence "%" (%)',
                CASE WHEN opts.seqincrement > 0 THEN 'maximum' ELSE 'minimum' END, seq,
                CASE WHEN opts.seqincrement > 0 THEN opts.seqmax ELSE opts.seqmin END
                USING ERRCODE = 'sequence_generator_limit_exceeded';
        END IF;
        next_value := CASE WHEN opts.seqincrement > 0 THEN opts.seqmin ELSE opts.seqmax END;
    END IF;

    room := div(CASE WHEN opts.seqincrement > 0 THEN opts.seqmax - next_value ELSE next_value - opts.seqmin END,
                abs(opts.seqincrement::numeric));
    first_value := next_value;
    last_value := next_value + least(n - 1, room) * opts.seqincrement;
    PERFORM setval(seq, last_value, true);
    increment := opts.seqincrement;
    SELECT s.generation INTO generation FROM pez.sequences s JOIN pg_class c ON c.relname = s.name
     WHERE c.oid = seq;
    generation := coalesce(generation, 0);
END
$$;

CREATE OR REPLACE FUNCTION pez.reserve(seq regclass, n bigint,
                                       OUT first_value bigint, OUT last_value bigint, OUT increment bigint,
                                       OUT generation bigint)
    LANGUAGE sql
    AS $$
    SELECT r.first_value, r.last_value, r.increment, r.generation FROM pez.reserve_dated(seq, n) r
$$;

-- pez.create_sequence of version 5, with a template, a period, its time zone and the check
-- algorithm. The template itself is checked by pezd (pez admin create); here only what no
-- template could make right.
DROP FUNCTION IF EXISTS pez.create_sequence(text, bigint, bigint, bigint, bigint, boolean, text, text);
CREATE OR REPLACE FUNCTION pez.create_sequence(seq_name text, start bigint DEFAULT NULL,
                                               min_value bigint DEFAULT NULL, max_value bigint DEFAULT NULL,
                                               increment bigint DEFAULT 1, cycle boolean DEFAULT true,
                                               mode text DEFAULT NULL, description text DEFAULT '',
                                               format text DEFAULT NULL, period text DEFAULT NULL,
                                               time_zone text DEFAULT NULL, check_digits text DEFAULT NULL)
    RETURNS bigint  -- the generation
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    lo bigint := coalesce(min_value, 1);
    hi bigint := coalesce(max_value, 9223372036854775807);
    first bigint;
    gen bigint;
    zone text;
    unit text;
BEGIN
    IF seq_name IS NULL OR seq_name !~ '^[a-z][a-z0-9_-]{0,47}$' THEN
        RAISE EXCEPTION 'invalid sequence name "%": 1 to 48 of a-z 0-9 _ -, starting with a letter', seq_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF increment IS NULL OR increment = 0 THEN
        RAISE EXCEPTION 'increment must not be 0' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lo >= hi THEN
        RAISE EXCEPTION 'min (%) must be below max (%)', lo, hi USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF abs(increment::numeric) > hi::numeric - lo THEN
        RAISE EXCEPTION 'increment (%) must be at most max - min (%): a larger step leaves the range at every step and gives the same number each time',
            abs(increment::numeric), hi::numeric - lo USING ERRCODE = 'invalid_parameter_value';
    END IF;
    first := coalesce(start, CASE WHEN increment > 0 THEN lo ELSE hi END);
    IF first < lo OR first > hi THEN
        RAISE EXCEPTION 'start (%) must lie within min (%) and max (%)', first, lo, hi
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF mode IS NOT NULL AND mode NOT IN ('strict', 'block') THEN
        RAISE EXCEPTION 'mode must be strict or block, not "%"', mode USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF period IS NOT NULL AND period NOT IN ('yearly', 'monthly', 'daily') THEN
        RAISE EXCEPTION 'period must be yearly, monthly or daily, not "%"', period USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF check_digits IS NOT NULL AND check_digits NOT IN ('luhn', 'damm', 'mod97') THEN
        RAISE EXCEPTION 'check must be luhn, damm or mod97, not "%"', check_digits USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF format IS NULL AND (period IS NOT NULL OR check_digits IS NOT NULL) THEN
        RAISE EXCEPTION 'a period or check characters need a format that shows them'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF format IS NOT NULL AND (length(format) > 200 OR position('{n' in format) = 0) THEN
        RAISE EXCEPTION 'format "%" must hold {n} and be at most 200 characters', format
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF format IS NOT NULL AND lo < 0 THEN
        RAISE EXCEPTION 'a formatted sequence''s numbers must be 0 or more (min is %)', lo
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF time_zone IS NOT NULL AND period IS NULL THEN
        RAISE EXCEPTION 'a time zone is for a periodic sequence (give a period)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF period IS NOT NULL THEN
        zone := coalesce(time_zone, 'UTC');
        IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = zone) THEN
            RAISE EXCEPTION 'time zone "%" is not known to the database (an IANA name such as Europe/Berlin, or UTC)', zone
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        unit := CASE period WHEN 'yearly' THEN 'year' WHEN 'monthly' THEN 'month' ELSE 'day' END;
    END IF;
    PERFORM pg_advisory_xact_lock(7365978);
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'pez' AND c.relname = seq_name) THEN
        RAISE EXCEPTION 'sequence "%" exists already', seq_name USING ERRCODE = 'duplicate_table';
    END IF;
    EXECUTE pg_catalog.format('CREATE SEQUENCE pez.%I AS bigint INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE 1 %s',
                   seq_name, increment, lo, hi, first, CASE WHEN cycle THEN 'CYCLE' ELSE 'NO CYCLE' END);
    DELETE FROM pez.sequences WHERE name = seq_name;
    INSERT INTO pez.sequences AS s (name, mode, description, format, period, time_zone, check_digits, current_period)
        VALUES (seq_name, mode, coalesce(description, ''), format, period, zone, check_digits,
                CASE WHEN period IS NOT NULL THEN date_trunc(unit, pez.now() AT TIME ZONE zone)::date END)
        RETURNING s.generation INTO gen;
    PERFORM pg_notify('pez_sequences', seq_name || ' ' || gen);
    RETURN gen;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (7, 'formats') ON CONFLICT (version) DO NOTHING;

COMMIT;
