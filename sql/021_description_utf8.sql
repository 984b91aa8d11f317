-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 21: a sequence's description as UTF-8, whatever the database holds.
--
-- pezd asks the server for UTF-8. A database in another encoding, such as WIN1252, may hold a
-- character with no equivalent in UTF-8 (0x81, 0x8D, 0x8F, 0x90, 0x9D) in a description written
-- by hand, and the server then refused the whole list of sequences (22P05): pez admin list and
-- inspect failed for every sequence. pez.description_utf8 gives the description's UTF-8 bytes,
-- with each character the server cannot convert as U+FFFD; in a UTF8 or SQL_ASCII database the
-- stored bytes as they are (pezd makes each byte that is not UTF-8 U+FFFD itself).
--
-- Anyone may call them (they read nothing but their argument): a pezd role that did not run this
-- file itself needs nothing more than for version 20. Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- The characters of other encodings, converted in runs: ASCII runs convert whole; a run of the
-- rest is tried whole and then a character at a time, each character the server cannot convert
-- U+FFFD. The work grows with the description's length (one written by hand may be long): the
-- array is appended to outside the exception blocks, where it is changed in place. Called by
-- pez.description_utf8 in a database whose encoding is neither UTF8 nor SQL_ASCII (there,
-- convert_to checks the bytes as UTF-8 instead of converting them).
CREATE OR REPLACE FUNCTION pez.description_utf8_converted(description text)
    RETURNS bytea
    LANGUAGE plpgsql
    STABLE
    PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    parts bytea[] := '{}';
    run record;
    ch text;
    converted bytea;
BEGIN
    BEGIN
        RETURN convert_to(description, 'UTF8');
    EXCEPTION WHEN untranslatable_character THEN
        NULL;  -- in parts, below
    END;
    FOR run IN
        SELECT m[1] AS ascii, m[2] AS other
        FROM regexp_matches(description, '([\x01-\x7f]+)|([^\x01-\x7f]+)', 'g') AS m
    LOOP
        IF run.ascii IS NOT NULL THEN
            parts := parts || convert_to(run.ascii, 'UTF8');
            CONTINUE;
        END IF;
        converted := NULL;
        BEGIN
            converted := convert_to(run.other, 'UTF8');
        EXCEPTION WHEN untranslatable_character THEN
            NULL;
        END;
        IF converted IS NOT NULL THEN
            parts := parts || converted;
            CONTINUE;
        END IF;
        FOREACH ch IN ARRAY regexp_split_to_array(run.other, '') LOOP
            converted := '\xefbfbd';  -- U+FFFD, unless the character converts
            BEGIN
                converted := convert_to(ch, 'UTF8');
            EXCEPTION WHEN untranslatable_character THEN
                NULL;
            END;
            parts := parts || converted;
        END LOOP;
    END LOOP;
    RETURN (SELECT string_agg(p, ''::bytea ORDER BY i) FROM unnest(parts) WITH ORDINALITY AS u(p, i));
END
$$;

-- One expression, which PostgreSQL writes into the query that calls it (a SQL function without
-- SET clauses is inlined; hence every name qualified): in a UTF8 or SQL_ASCII database a list
-- reads the stored bytes with no function call for each row (one cost 4 microseconds: 43 ms of a
-- list of 10,000 sequences).
CREATE OR REPLACE FUNCTION pez.description_utf8(description text)
    RETURNS bytea
    LANGUAGE sql
    STABLE
    PARALLEL SAFE
    AS $$
SELECT CASE
    WHEN pg_catalog.current_setting('server_encoding')
         OPERATOR(pg_catalog.=) ANY ('{UTF8,SQL_ASCII}'::pg_catalog.text[])
    THEN pg_catalog.convert_to(description, 'SQL_ASCII')
    ELSE pez.description_utf8_converted(description)
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (21, 'description_utf8') ON CONFLICT (version) DO NOTHING;

COMMIT;
