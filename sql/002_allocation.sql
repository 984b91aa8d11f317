-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 2: how numbers are taken, as functions a DBA can read, and call by hand.
--
--   SELECT pez.take('pez.forward', 5);                -- five numbers, as pezd's strict mode takes them
--   SELECT * FROM pez.reserve('pez.forward', 1000);  -- a block of numbers, as block mode reserves them
--
-- Only these functions (and pezd, which calls them) may take numbers from the sequences of
-- schema pez: a bare nextval() takes no part in the locking below, and is not durable on its own.
-- Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- The advisory lock that orders the takers of one sequence. pez.take holds it shared, so many
-- takes run at once; pez.reserve holds it alone, so that no take runs between its reading the
-- sequence and moving it past the block.
CREATE OR REPLACE FUNCTION pez.lock_key(seq regclass) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (7365978::bigint << 32) | seq::oid::bigint $$;

-- n numbers from seq, in the sequence's order.
-- (Version 4 replaces this function with one whose commit is durable: a transaction id alone, as
-- here, does not make PostgreSQL flush the commit or wait for a synchronous standby. Once version
-- 4 is applied, running this file again leaves that one alone.)
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 4) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint
        LANGUAGE plpgsql
        AS $take$
    BEGIN
        IF n IS NULL OR n < 1 THEN
            RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pez.lock_key(seq));
        PERFORM pg_catalog.pg_current_xact_id();
        RETURN QUERY SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n);
    END
    $take$;
END
$migration$;

-- Reserves a block of up to n numbers of seq for one caller: first_value, first_value + increment,
-- ... last_value. The block stops at the end of the sequence's range; the next one starts over at
-- the other end when the sequence cycles, and fails like nextval() when it does not. Durable on
-- commit: setval() writes WAL in the transaction, so its commit is flushed (and waits for a
-- synchronous standby) before the block is answered.
-- (Version 3 replaces this function with one that also answers a generation: once it is
-- applied, running this file again leaves that one alone.)
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 3) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.reserve(seq regclass, n bigint,
                                           OUT first_value bigint, OUT last_value bigint, OUT increment bigint)
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

        -- How many steps fit before the end of the range.
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
    END
    $reserve$;
END
$migration$;

INSERT INTO pez.schema_migrations (version, name) VALUES (2, 'allocation') ON CONFLICT (version) DO NOTHING;

COMMIT;
