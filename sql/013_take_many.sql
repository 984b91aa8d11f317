-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 13: strict takes of several sequences in one statement, each apart.
--
-- pezd in strict mode runs one statement at a time per sequence, and each waits for its commit
-- to be flushed. With requests spread over many sequences that was a statement, and a flush, for
-- every one or two requests. pez.take_many takes from several sequences in one statement (one
-- transaction, one flushed commit), each take in a subtransaction of its own, as pez.reserve_many
-- (version 12) reserves: one that the sequence refuses (run out, dropped, more than one pass of a
-- cycling sequence) takes nothing and is answered with its SQLSTATE; the others keep their
-- numbers, and all of them commit together. Any other error (a server that became read-only,
-- one short of memory) fails the statement as a whole, and what it took is burned, as a single
-- take's would be.
--
--   SELECT * FROM pez.take_many(ARRAY['a', 'b'], ARRAY[3, 1]);
--   -- one row per name, in order: as pez.take_dated answers (the period or NULL, the numbers),
--   -- or the SQLSTATE and message of its refusal
--
-- The names are those of sequences in schema pez (the caller sorts them: transactions that lock
-- sequences in one order cannot deadlock). A pezd role that did not run this file itself needs
-- nothing more than for version 12. Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

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
    -- Each take turns synchronous_commit on for the transaction too, but a refused one's setting
    -- goes with its subtransaction.
    PERFORM pez.durable();
    FOR ask IN SELECT u.name, u.n FROM unnest(names, counts) WITH ORDINALITY AS u(name, n, i) ORDER BY u.i LOOP
        period := NULL;
        numbers := NULL;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            SELECT t.period, t.numbers INTO period, numbers
              FROM pez.take_dated(('pez.' || quote_ident(ask.name))::regclass, ask.n) t;
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

INSERT INTO pez.schema_migrations (version, name) VALUES (13, 'take_many') ON CONFLICT (version) DO NOTHING;

COMMIT;
