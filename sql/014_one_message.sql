-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 14: one logical message for a take of several sequences.
--
-- A take is made durable by a transactional logical message (version 4): the transaction then
-- has an id, and its commit is flushed. pez.take_many (version 13) ran pez.take_dated for each
-- sequence in a subtransaction, and each wrote its own message, so each subtransaction took a
-- transaction id of its own too: a statement of 17 sequences wrote 17 messages and committed 17
-- subtransaction ids, and turned synchronous_commit on once more. pez.take_dated_part is
-- pez.take_dated without either; pez.take_dated is now it with both, and pez.take_many does both
-- once for the statement, before its takes, whatever each of them answers.
--
--   SELECT * FROM pez.take_dated_part('pez.forward', 3);
--   -- as pez.take_dated, but durable only in a transaction that writes WAL of its own with
--   -- synchronous_commit on: not for use alone
--
-- A pezd role that did not run this file itself needs nothing more than for version 13. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- As pez.take_dated in version 11, without what makes it durable (pez.durable and the logical
-- message).
CREATE OR REPLACE FUNCTION pez.take_dated_part(seq regclass, n integer, OUT period date, OUT numbers bigint[])
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
    numbers := ARRAY(SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n));
END
$$;

CREATE OR REPLACE FUNCTION pez.take_dated(seq regclass, n integer, OUT period date, OUT numbers bigint[])
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pez.durable();
    SELECT t.period, t.numbers INTO period, numbers FROM pez.take_dated_part(seq, n) t;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
END
$$;

-- As in version 13, with one message for the statement.
CREATE OR REPLACE FUNCTION pez.take_many(names text[], counts integer[])
    RETURNS TABLE (period date, numbers bigint[], error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ask record;
BEGIN
    IF cardinality(names) IS DISTINCT FROM cardinality(counts) THEN
        RAISE EXCEPTION 'pez.take_many: % names and % counts', cardinality(names), cardinality(counts)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Once for the whole statement, outside the takes' subtransactions: synchronous_commit on,
    -- and a message, so that the commit is flushed with every take that kept its numbers.
    PERFORM pez.durable();
    PERFORM pg_logical_emit_message(true, 'pez', '');
    FOR ask IN SELECT u.name, u.n FROM unnest(names, counts) WITH ORDINALITY AS u(name, n, i) ORDER BY u.i LOOP
        period := NULL;
        numbers := NULL;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            SELECT t.period, t.numbers INTO period, numbers
              FROM pez.take_dated_part(('pez.' || quote_ident(ask.name))::regclass, ask.n) t;
        EXCEPTION
            -- What the sequence itself refuses, as in pez.reserve_many: anything else fails the
            -- statement, as it would a single take.
            WHEN sequence_generator_limit_exceeded OR undefined_table OR wrong_object_type
                 OR invalid_parameter_value OR insufficient_privilege THEN
                GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (14, 'one_message') ON CONFLICT (version) DO NOTHING;

COMMIT;
