-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 1: the pez schema, the record of applied migrations, and the two
-- sequences that always exist.
--
-- pezd runs this file itself on start when the schema is missing and its role may create it.
-- Otherwise run it once as the database owner, then let pezd's role use the sequences:
--
--   psql -d DBNAME -v ON_ERROR_STOP=1 -f /usr/share/pez/sql/001_init.sql
--   GRANT USAGE ON SCHEMA pez TO pezd_role;
--   GRANT SELECT ON pez.schema_migrations TO pezd_role;
--   GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA pez TO pezd_role;
--
-- Running it again changes nothing.

BEGIN;

-- Two pezd starting at once must not both create the objects.
SELECT pg_advisory_xact_lock(7365978);

CREATE SCHEMA IF NOT EXISTS pez;

CREATE TABLE IF NOT EXISTS pez.schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- 1, 2, 3, ... 9223372036854775807, then 1 again.
CREATE SEQUENCE IF NOT EXISTS pez.forward
    AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 CYCLE;

-- 9223372036854775807, 9223372036854775806, ... 1, then 9223372036854775807 again.
CREATE SEQUENCE IF NOT EXISTS pez.reverse
    AS bigint INCREMENT BY -1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 9223372036854775807 CACHE 1 CYCLE;

INSERT INTO pez.schema_migrations (version, name) VALUES (1, 'init') ON CONFLICT (version) DO NOTHING;

COMMIT;
