-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 3: named sequences and their administration.
--
-- PostgreSQL already knows a sequence's direction, start, bounds, cycle and state (see the view
-- pg_sequences). pez.sequences adds what it lacks: the allocation mode a sequence overrides,
-- a description, and a generation that changes whenever the sequence is created or reset, so a
-- pezd holding numbers reserved before the change knows to throw them away.
--
--   SELECT * FROM pez.create_sequence('tickets');                         -- 1, 2, 3, ...
--   SELECT * FROM pez.create_sequence('countdown', start => 10, min_value => 1, max_value => 10,
--                                     increment => -1, cycle => false);   -- 10, 9, ... 1, then no more
--   SELECT pez.reset_sequence('tickets');          -- the next number is the start again
--   SELECT pez.reset_sequence('tickets', 500);     -- the next number is 500
--   SELECT pez.drop_sequence('tickets');
--
-- Each change is announced on the channel pez_sequences (payload: "NAME GENERATION", or "NAME
-- dropped"), which every pezd listens to. Running this file again changes nothing.
--
-- A pezd role that did not run this file itself needs, besides the rights of 001_init.sql:
--
--   GRANT SELECT ON pez.sequences TO pezd_role;
--
-- and, for pez admin create, reset and drop through that pezd (otherwise run the functions
-- below as the database owner):
--
--   GRANT INSERT, UPDATE, DELETE ON pez.sequences TO pezd_role;
--   GRANT CREATE ON SCHEMA pez TO pezd_role;
--   -- and ownership of the sequences it may drop
--
-- (Names starting with "_" are not sequence names, so pez._generations is never served.)

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- Generations come from one sequence, so a name dropped and created again never repeats one.
CREATE SEQUENCE IF NOT EXISTS pez._generations AS bigint MINVALUE 1 NO CYCLE;

CREATE TABLE IF NOT EXISTS pez.sequences (
    name        text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,47}$'),
    mode        text        CHECK (mode IN ('strict', 'block')),  -- NULL: the daemon's setting
    description text        NOT NULL DEFAULT '',
    generation  bigint      NOT NULL DEFAULT nextval('pez._generations'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    reset_at    timestamptz
);

INSERT INTO pez.sequences (name, description) VALUES
    ('forward', 'ascending, 1 to 9223372036854775807, then 1 again'),
    ('reverse', 'descending, 9223372036854775807 to 1, then 9223372036854775807 again')
ON CONFLICT (name) DO NOTHING;

-- The sequence of schema pez called name, or an error saying there is none.
CREATE OR REPLACE FUNCTION pez.sequence_of(seq_name text) RETURNS regclass
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    found regclass;
BEGIN
    SELECT c.oid INTO found FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'pez' AND c.relname = seq_name AND c.relkind = 'S';
    IF found IS NULL THEN
        RAISE EXCEPTION 'no sequence named "%"', seq_name USING ERRCODE = 'undefined_table';
    END IF;
    RETURN found;
END
$$;

-- The state PostgreSQL keeps for a sequence: the last value it gave (or will give first, when not
-- called yet, as after a reset).
-- (Version 5 replaces this function with one that answers no state for a sequence dropped
-- meanwhile: once it is applied, running this file again leaves that one alone.)
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 5) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.sequence_state(seq_name text, OUT last_value bigint, OUT is_called boolean)
        LANGUAGE plpgsql STABLE
        SET search_path = pg_catalog, pg_temp
        AS $state$
    BEGIN
        EXECUTE format('SELECT last_value, is_called FROM pez.%I', seq_name) INTO last_value, is_called;
    END
    $state$;
END
$migration$;

-- (Version 5 replaces this function with one that also checks the increment against the range:
-- once it is applied, running this file again leaves that one alone.)
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 5) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.create_sequence(seq_name text, start bigint DEFAULT NULL,
                                                   min_value bigint DEFAULT NULL, max_value bigint DEFAULT NULL,
                                                   increment bigint DEFAULT 1, cycle boolean DEFAULT true,
                                                   mode text DEFAULT NULL, description text DEFAULT '')
        RETURNS bigint  -- the generation
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
        AS $create$
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
    $create$;
END
$migration$;

-- The next number handed out is to, or the sequence's start. Waits for takes and reserves of
-- the sequence that are running (the lock of pez.take and pez.reserve), so none straddles it.
CREATE OR REPLACE FUNCTION pez.reset_sequence(seq_name text, to_value bigint DEFAULT NULL)
    RETURNS bigint  -- the new generation
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    seq regclass := pez.sequence_of(seq_name);
    opts pg_sequence%ROWTYPE;
    target bigint;
    gen bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    SELECT * INTO STRICT opts FROM pg_sequence WHERE seqrelid = seq;
    target := coalesce(to_value, opts.seqstart);
    IF target < opts.seqmin OR target > opts.seqmax THEN
        RAISE EXCEPTION 'cannot reset "%" to %: it must lie within min (%) and max (%)',
            seq_name, target, opts.seqmin, opts.seqmax USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM setval(seq, target, false);
    INSERT INTO pez.sequences AS s (name, reset_at) VALUES (seq_name, now())
        ON CONFLICT (name) DO UPDATE SET generation = nextval('pez._generations'), reset_at = now()
        RETURNING s.generation INTO gen;
    PERFORM pg_notify('pez_sequences', seq_name || ' ' || gen);
    RETURN gen;
END
$$;

CREATE OR REPLACE FUNCTION pez.drop_sequence(seq_name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    seq regclass;
BEGIN
    IF seq_name IN ('forward', 'reverse') THEN
        RAISE EXCEPTION 'sequence "%" is built in and cannot be dropped (reset it instead)', seq_name
            USING ERRCODE = 'object_in_use';
    END IF;
    seq := pez.sequence_of(seq_name);
    PERFORM pg_advisory_xact_lock(7365978);
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    EXECUTE format('DROP SEQUENCE pez.%I', seq_name);
    DELETE FROM pez.sequences WHERE name = seq_name;
    PERFORM pg_notify('pez_sequences', seq_name || ' dropped');
END
$$;

-- pez.reserve of version 2, now also answering the sequence's generation at the time of the
-- block, read under the same lock that pez.reset_sequence takes. Only when version 3 is not in
-- place yet: dropping the function while others call it would fail their calls.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 3) THEN
        RETURN;
    END IF;
    DROP FUNCTION IF EXISTS pez.reserve(regclass, bigint);
    CREATE FUNCTION pez.reserve(seq regclass, n bigint,
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
        last numeric;
        room numeric;
    BEGIN
        IF n IS NULL OR n < 1 THEN
            RAISE EXCEPTION 'pez.reserve: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
        PERFORM pg_current_xact_id();
        SELECT * INTO STRICT opts FROM pg_sequence WHERE seqrelid = seq;
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

        IF opts.seqincrement > 0 THEN
            room := floor((opts.seqmax - next_value) / opts.seqincrement);
        ELSE
            room := floor((next_value - opts.seqmin) / -opts.seqincrement);
        END IF;
        last := next_value + least(n - 1, room) * opts.seqincrement;

        PERFORM setval(seq, last::bigint, true);
        first_value := next_value;
        last_value := last;
        increment := opts.seqincrement;
        SELECT s.generation INTO generation FROM pez.sequences s JOIN pg_class c ON c.relname = s.name
         WHERE c.oid = seq;
        generation := coalesce(generation, 0);
    END
    $reserve$;
END
$migration$;

INSERT INTO pez.schema_migrations (version, name) VALUES (3, 'admin') ON CONFLICT (version) DO NOTHING;

COMMIT;
