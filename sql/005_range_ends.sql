-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 5: the ends of a sequence's range.
--
-- * pez.create_sequence refuses a shape whose increment is as large as its range or larger
--   (|increment| > max - min): every step would leave the range and start over, so every number
--   handed out would be the same.
-- * pez.reserve counts the steps left before the end of the range with div(), which is exact for
--   every bigint; floor(a / b) of version 3 rounded near 2^63 and answered a block past the end
--   (seen with increment 2^62: "bigint out of range" from setval on every later call).
-- * pez.take of a sequence without CYCLE takes all the numbers asked for or none: when fewer are
--   left it fails with sequence_generator_limit_exceeded and consumes nothing, so the numbers
--   left still go to smaller requests. Takes of such a sequence hold its lock alone, so that the
--   count of numbers left and the take are one step.
-- * pez.take of a sequence with CYCLE refuses to take more numbers than one pass over the range
--   holds (invalid_parameter_value): one answer would hold a number twice.
-- * A take, a reserve or pez.sequence_state that meets its sequence dropped meanwhile says so
--   (undefined_table, wrong_object_type), instead of "could not open relation with OID".
--
--   SELECT pez.numbers_left('pez.tickets');   -- how many numbers the sequence can still hand
--                                              -- out before it wraps (CYCLE) or runs out
--
-- A pezd role that did not run this file itself needs nothing more than for version 3. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- The numbers seq can hand out from its next one on, before the end of its range (the next
-- one included; 0 when it does not cycle and has run out). For a sequence that cycles and
-- stands at the end of its range, the numbers of a whole pass from the other end.
CREATE OR REPLACE FUNCTION pez.numbers_left(seq regclass) RETURNS numeric
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    opts pg_sequence%ROWTYPE;
    current_value bigint;
    called boolean;
    next_value numeric;
BEGIN
    SELECT * INTO opts FROM pg_sequence WHERE seqrelid = seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
    END IF;
    EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO current_value, called;
    next_value := current_value;
    IF called THEN
        next_value := next_value + opts.seqincrement;
    END IF;
    IF next_value > opts.seqmax OR next_value < opts.seqmin THEN
        IF NOT opts.seqcycle THEN
            RETURN 0;
        END IF;
        next_value := CASE WHEN opts.seqincrement > 0 THEN opts.seqmin ELSE opts.seqmax END;
    END IF;
    RETURN div(CASE WHEN opts.seqincrement > 0 THEN opts.seqmax - next_value ELSE next_value - opts.seqmin END,
               abs(opts.seqincrement::numeric)) + 1;
END
$$;

-- n numbers from seq, in the sequence's order; durable once the calling transaction commits
-- (see 004_durable_take.sql). All n or none. (Version 6 replaces it, and pez.reserve below, with
-- ones that set synchronous_commit for their transaction: once it is applied, running this file
-- again leaves those alone.)
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 6) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint
        LANGUAGE plpgsql
        AS $take$
    DECLARE
        opts record;
        left_over numeric;
    BEGIN
        IF n IS NULL OR n < 1 THEN
            RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
        END IF;
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
    $take$;
END
$migration$;

-- A block of up to n numbers of seq for one caller, as in version 3, with the steps left counted
-- exactly.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 6) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.reserve(seq regclass, n bigint,
                                           OUT first_value bigint, OUT last_value bigint, OUT increment bigint,
                                           OUT generation bigint)
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
        AS $reserve$
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
        PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
        SELECT * INTO opts FROM pg_sequence WHERE seqrelid = seq;
        IF NOT FOUND THEN
            RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
        END IF;
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

        -- Whole steps that fit between the first number and the end of the range.
        room := div(CASE WHEN opts.seqincrement > 0 THEN opts.seqmax - next_value ELSE next_value - opts.seqmin END,
                    abs(opts.seqincrement::numeric));
        first_value := next_value;
        last_value := next_value + least(n - 1, room) * opts.seqincrement;
        -- setval writes WAL in this transaction: its commit is flushed before the block is answered.
        PERFORM setval(seq, last_value, true);
        increment := opts.seqincrement;
        SELECT s.generation INTO generation FROM pez.sequences s JOIN pg_class c ON c.relname = s.name
         WHERE c.oid = seq;
        generation := coalesce(generation, 0);
    END
    $reserve$;
END
$migration$;

-- As in version 3, and refusing an increment of the range's size or more.
CREATE OR REPLACE FUNCTION pez.create_sequence(seq_name text, start bigint DEFAULT NULL,
                                               min_value bigint DEFAULT NULL, max_value bigint DEFAULT NULL,
                                               increment bigint DEFAULT 1, cycle boolean DEFAULT true,
                                               mode text DEFAULT NULL, description text DEFAULT '')
    RETURNS bigint  -- the generation
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    lo bigint := coalesce(min_value, 1);
    hi bigint := coalesce(max_value, 9223372036854775807);
    first bigint;
    gen bigint;
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
    PERFORM pg_advisory_xact_lock(7365978);
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'pez' AND c.relname = seq_name) THEN
        RAISE EXCEPTION 'sequence "%" exists already', seq_name USING ERRCODE = 'duplicate_table';
    END IF;
    EXECUTE format('CREATE SEQUENCE pez.%I AS bigint INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE 1 %s',
                   seq_name, increment, lo, hi, first, CASE WHEN cycle THEN 'CYCLE' ELSE 'NO CYCLE' END);
    DELETE FROM pez.sequences WHERE name = seq_name;
    INSERT INTO pez.sequences (name, mode, description) VALUES (seq_name, mode, coalesce(description, ''))
        RETURNING generation INTO gen;
    PERFORM pg_notify('pez_sequences', seq_name || ' ' || gen);
    RETURN gen;
END
$$;

-- As in version 3, and no state (NULL) for a sequence dropped while its caller (pez admin list)
-- read the list, instead of failing the whole list.
CREATE OR REPLACE FUNCTION pez.sequence_state(seq_name text, OUT last_value bigint, OUT is_called boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    EXECUTE format('SELECT last_value, is_called FROM pez.%I', seq_name) INTO last_value, is_called;
EXCEPTION WHEN undefined_table THEN
    last_value := NULL;
    is_called := NULL;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (5, 'range ends') ON CONFLICT (version) DO NOTHING;

COMMIT;
