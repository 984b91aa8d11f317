-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 10: several sequences created in one statement and one commit.
--
-- A create is a transaction with DDL whose commit waits for its WAL flush, and the commits of
-- creates cannot share a flush (a transaction that notifies holds the notify queue's lock while
-- it commits). pezd gives the creates that wait together in one statement to
-- pez.create_sequences: each runs as pez.create_sequence would, in a subtransaction of its own,
-- so one that is refused (a name taken, a bad shape) changes nothing and the others still
-- happen; all of them commit together. On a server that became read-only the statement fails
-- as a whole.
--
--   SELECT * FROM pez.create_sequences('[["a", null, null, null, 1, true, null, "", null, null, null, null],
--                                        ["b", 10, null, null, 1, true, null, "", null, null, null, null]]');
--   -- one row per create, in order: its generation, or the SQLSTATE and message of its refusal
--
-- Each element is the array of pez.create_sequence's arguments, in its order (JSON null for a
-- default). A pezd role that did not run this file itself needs nothing more than for version 9.
-- Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE OR REPLACE FUNCTION pez.create_sequences(specs jsonb)
    RETURNS TABLE (generation bigint, error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s jsonb;
BEGIN
    IF jsonb_typeof(specs) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'specs must be a JSON array of argument arrays' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR s IN SELECT e.value FROM jsonb_array_elements(specs) WITH ORDINALITY AS e(value, n) ORDER BY e.n LOOP
        generation := NULL;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            IF jsonb_typeof(s) IS DISTINCT FROM 'array' OR jsonb_array_length(s) <> 12 THEN
                RAISE EXCEPTION 'each create must be an array of the 12 arguments of pez.create_sequence'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            generation := pez.create_sequence(s->>0, (s->>1)::bigint, (s->>2)::bigint, (s->>3)::bigint,
                                              (s->>4)::bigint, (s->>5)::boolean, s->>6, coalesce(s->>7, ''),
                                              s->>8, s->>9, s->>10, s->>11);
        EXCEPTION
            WHEN read_only_sql_transaction THEN
                RAISE;  -- a standby now: the statement fails, as a single create would
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (10, 'create_many') ON CONFLICT (version) DO NOTHING;

COMMIT;
