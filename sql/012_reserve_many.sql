-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 12: blocks of several sequences in one statement, each apart.
--
-- pezd in block mode reserves the blocks that wait together in one statement (up to 32). Until
-- now that statement ran pez.reserve_dated for each in turn, and the first that failed (run out,
-- dropped) failed all of it: what the others had reserved before it was burned (setval is not
-- undone), for a sequence without cycle near its end its last numbers, and each was asked for
-- again alone. pez.reserve_many runs each reserve in a subtransaction of its own: one that cannot
-- be served (run out, dropped) changes nothing and is answered with its SQLSTATE; the others keep
-- their blocks, and all of them commit together. Any other error (a server that became
-- read-only, one short of memory) fails the statement as a whole.
--
--   SELECT * FROM pez.reserve_many(ARRAY['a', 'b'], ARRAY[100, 1000]);
--   -- one row per name, in order: as pez.reserve_dated answers, or the SQLSTATE and message of
--   -- its refusal
--
-- The names are those of sequences in schema pez (the caller sorts them: transactions that lock
-- sequences in one order cannot deadlock). A pezd role that did not run this file itself needs
-- nothing more than for version 11. Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE OR REPLACE FUNCTION pez.reserve_many(names text[], counts bigint[])
    RETURNS TABLE (first_value bigint, last_value bigint, increment bigint, generation bigint, period date,
                   valid_for double precision, error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ask record;
BEGIN
    IF cardinality(names) IS DISTINCT FROM cardinality(counts) THEN
        RAISE EXCEPTION 'pez.reserve_many: % names and % counts', cardinality(names), cardinality(counts)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR ask IN SELECT u.name, u.n FROM unnest(names, counts) WITH ORDINALITY AS u(name, n, i) ORDER BY u.i LOOP
        first_value := NULL;
        last_value := NULL;
        increment := NULL;
        generation := NULL;
        period := NULL;
        valid_for := NULL;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            SELECT r.first_value, r.last_value, r.increment, r.generation, r.period, r.valid_for
              INTO first_value, last_value, increment, generation, period, valid_for
              FROM pez.reserve_dated(('pez.' || quote_ident(ask.name))::regclass, ask.n) r;
        EXCEPTION
            -- What the sequence itself refuses: run out, missing (dropped, or never made), not a
            -- sequence, a count out of range, no right to it. Anything else (a standby now, a
            -- deadlock, the server short of memory or disk) fails the statement, as it would a
            -- single reserve.
            WHEN sequence_generator_limit_exceeded OR undefined_table OR wrong_object_type
                 OR invalid_parameter_value OR insufficient_privilege THEN
                GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (12, 'reserve_many') ON CONFLICT (version) DO NOTHING;

COMMIT;
