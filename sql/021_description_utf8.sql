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
-- Anyone may call it (it reads nothing but its argument): a pezd role that did not run this file
-- itself needs nothing more than for version 20. Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE OR REPLACE FUNCTION pez.description_utf8(description text)
    RETURNS bytea
    LANGUAGE plpgsql
    STABLE
    PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    parts bytea[] := '{}';
    run text;
    ch text;
    converted bytea;
BEGIN
    IF description IS NULL THEN
        RETURN NULL;
    END IF;
    -- A UTF8 database holds UTF-8 already, and SQL_ASCII converts nothing: no subtransaction.
    IF current_setting('server_encoding') IN ('UTF8', 'SQL_ASCII') THEN
        RETURN convert_to(description, 'SQL_ASCII');
    END IF;
    BEGIN
        RETURN convert_to(description, 'UTF8');
    EXCEPTION WHEN untranslatable_character THEN
        NULL;  -- in parts, below
    END;
    -- Runs of ASCII, which convert, and runs of the rest, each tried whole and then a character
    -- at a time: the work grows with the description's length (one written by hand may be
    -- long). The array is appended to outside the exception blocks, where it is changed in place.
    FOREACH run IN ARRAY ARRAY(SELECT m[1] FROM regexp_matches(description, '([\x01-\x7f]+|[^\x01-\x7f]+)', 'g') AS m)
    LOOP
        IF run ~ '^[\x01-\x7f]' THEN
            parts := parts || convert_to(run, 'UTF8');
            CONTINUE;
        END IF;
        converted := NULL;
        BEGIN
            converted := convert_to(run, 'UTF8');
        EXCEPTION WHEN untranslatable_character THEN
            NULL;
        END;
        IF converted IS NOT NULL THEN
            parts := parts || converted;
            CONTINUE;
        END IF;
        FOREACH ch IN ARRAY regexp_split_to_array(run, '') LOOP
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

INSERT INTO pez.schema_migrations (version, name) VALUES (21, 'description_utf8') ON CONFLICT (version) DO NOTHING;

COMMIT;
