-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 9: a sequence's row of pez.sequences found through an index, so that a take
-- or a reserve costs the same beside 10 sequences as beside 100,000.
--
-- The functions that take and reserve numbers (versions 7 and 8), pez.usage and pezd's reads of
-- the catalog find a sequence's row by joining pg_class on c.relname = s.name. relname is of type
-- name, whose collation is "C", and the primary key of pez.sequences is in the database's default
-- collation: a comparison made in "C" cannot use that key, so each of them read the whole of
-- pez.sequences (3 ms beside 11,000 sequences; a reserve of blocks for 32 sequences took 90 ms).
-- An index on the name in "C" serves those comparisons; the key stays as it is.
--
-- A pezd role that did not run this file itself needs nothing more than for version 8. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE UNIQUE INDEX IF NOT EXISTS sequences_name_c ON pez.sequences (name COLLATE "C");

INSERT INTO pez.schema_migrations (version, name) VALUES (9, 'lookups') ON CONFLICT (version) DO NOTHING;

COMMIT;
