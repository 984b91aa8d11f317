-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 20: the pages of pez.usage hold only the names pezd serves.
--
-- pez.usage (version 15) listed every sequence of pezd's schema and read the position only of
-- those whose name follows the rule. A sequence made there by hand may have any name, in the
-- database's encoding: in one such as WIN1252, a byte that has no equivalent in UTF-8 (0x81,
-- 0x8D, 0x8F, 0x90, 0x9D) made the server refuse to send the page it was on (22P05) to pezd,
-- which asks for UTF-8, so that every reading failed and no rate or forecast was known. The
-- page is now made of names that follow the rule alone (ASCII), so a page still holds as many
-- rows as asked for unless it is the last. Nothing else changes: the same rows, for the names
-- pezd serves.
--
-- A pezd role that did not run this file itself needs nothing more than for version 19. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- As in version 15, with the name's rule checked as the page is listed.
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
    -- The page in the order of the index on pg_class's names (type name compares bytewise), of
    -- the names pezd serves alone.
    FOR r IN SELECT c.oid, c.relname::text AS relname, coalesce(p.generation, 0) AS generation,
                    s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle,
                    to_char(p.current_period, 'YYYYMMDD') AS period
               FROM (SELECT k.oid, k.relname FROM pg_class k
                      WHERE k.relnamespace = 'pez'::regnamespace AND k.relkind = 'S'
                        AND (after_name IS NULL OR k.relname > after_name::name)
                        AND k.relname ~ '^[a-z][a-z0-9_-]*$' AND length(k.relname) <= 48
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
        IF coalesce(has_sequence_privilege(r.oid, 'SELECT'), false) THEN
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

INSERT INTO pez.schema_migrations (version, name) VALUES (20, 'usage_served_names') ON CONFLICT (version) DO NOTHING;

COMMIT;
