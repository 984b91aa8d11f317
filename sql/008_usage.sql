-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 8: where every sequence stands, read in few statements, for the rates and
-- exhaustion forecasts of pezd(8) (pez admin list, /metrics).
--
-- Every pezd reads the position of each sequence of schema pez every usage_interval (10 s by
-- default) and derives from how far it moved how many numbers all daemons together take per
-- second, and when a sequence runs out (or, when it cycles, wraps). One call answers a page of
-- sequences, in name order, from the one after after_name on:
--
--   SELECT * FROM pez.usage();                    -- the first 500 sequences
--   SELECT * FROM pez.usage('tickets', 100);      -- the 100 after tickets
--
-- Reading a sequence locks it until the transaction ends (as SELECT ... FROM seq does), so a
-- page is bounded: one statement over 10,000 sequences would hold more locks than PostgreSQL's
-- lock table has room for by default (max_locks_per_transaction), and others' takes would fail.
-- A sequence dropped while a page is read, or locked by another transaction for more than a
-- second (ALTER SEQUENCE, DROP in a transaction left open), is left out of that page; one the
-- caller may not read (no SELECT on it) is left out too.
--
-- A pezd role that did not run this file itself needs nothing more than for version 7 (SELECT on
-- pez.sequences and on the sequences; functions may be called by every role unless the owner
-- revoked that). Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- One row per sequence of schema pez in the page: its name, its oid (a sequence dropped and
-- created again under the same name has another), its generation (pez.sequences; 0 without a
-- row), its shape, its state as SELECT last_value, is_called FROM seq answers it, and for a
-- periodic sequence the period its counter is in (YYYYMMDD; a new period starts it again at its
-- start, sql/007_formats.sql). The state is NULL for a sequence left out (above) and for a name
-- pezd does not serve, so that a page always holds most rows unless it is the last.
CREATE OR REPLACE FUNCTION pez.usage(after_name text DEFAULT NULL, most integer DEFAULT 500)
    RETURNS TABLE (name text, identity oid, generation bigint, increment bigint, min_value bigint,
                   max_value bigint, start_value bigint, cycle boolean, last_value bigint, is_called boolean,
                   period text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET lock_timeout = '1s'
    AS $$
DECLARE
    r record;
BEGIN
    -- The page in the order of the index on pg_class's names (type name compares bytewise).
    FOR r IN SELECT c.oid, c.relname::text AS relname, coalesce(p.generation, 0) AS generation,
                    s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle,
                    to_char(p.current_period, 'YYYYMMDD') AS period
               FROM (SELECT k.oid, k.relname FROM pg_class k
                      WHERE k.relnamespace = 'pez'::regnamespace AND k.relkind = 'S'
                        AND (after_name IS NULL OR k.relname > after_name::name)
                      ORDER BY k.relname LIMIT greatest(coalesce(most, 500), 1)) c
               JOIN pg_sequence s ON s.seqrelid = c.oid
               LEFT JOIN pez.sequences p ON p.name = c.relname::text
              ORDER BY c.relname
    LOOP
        name := r.relname;
        identity := r.oid;
        generation := r.generation;
        increment := r.seqincrement;
        min_value := r.seqmin;
        max_value := r.seqmax;
        start_value := r.seqstart;
        cycle := r.seqcycle;
        period := r.period;
        last_value := NULL;
        is_called := NULL;
        IF r.relname ~ '^[a-z][a-z0-9_-]{0,47}$' AND coalesce(has_sequence_privilege(r.oid, 'SELECT'), false) THEN
            BEGIN
                -- Cheap, but NULL for a sequence not called yet (new, or just reset): then read it.
                last_value := pg_sequence_last_value(r.oid);
                is_called := last_value IS NOT NULL;
                IF NOT is_called THEN
                    EXECUTE format('SELECT last_value FROM pez.%I', r.relname) INTO last_value;
                END IF;
            EXCEPTION
                -- Dropped since the page was listed ("could not open relation with OID" is an
                -- internal error), or held by another transaction.
                WHEN undefined_table OR internal_error OR lock_not_available THEN
                    last_value := NULL;
                    is_called := NULL;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (8, 'usage') ON CONFLICT (version) DO NOTHING;

COMMIT;
