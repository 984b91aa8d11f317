-- SPDX-License-Identifier: Apache-2.0
-- The rights of pezd's database role when another role owns schema pez: the role that ran
-- `pezd migrate` (the database's owner, or a role with CREATE on the database; no superuser is
-- needed). Run it as that role, once after `pezd migrate`, naming pezd's role:
--
--   pezd migrate                                   -- as the owner role
--   psql -d DBNAME -v ON_ERROR_STOP=1 -v pezd=pezd_role -f /usr/share/pez/sql/grants.sql
--
-- With just these, pezd takes numbers in strict and block mode, hears change notices (LISTEN
-- needs no right), answers pez status and, with the last part, pez admin create, reset and drop.
-- Nothing in PEZ needs a superuser: pg_logical_emit_message, advisory locks and LISTEN are open
-- to every role, and pezd reads no view that needs more. Running it again changes nothing.

-- The schema, its version and its catalog.
GRANT USAGE ON SCHEMA pez TO :"pezd";
GRANT SELECT ON pez.schema_migrations TO :"pezd";
GRANT SELECT ON pez.sequences TO :"pezd";

-- Taking numbers (nextval and setval need UPDATE, reading a sequence's state SELECT), from the
-- sequences there are and from those the owner makes later.
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA pez TO :"pezd";
ALTER DEFAULT PRIVILEGES IN SCHEMA pez GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"pezd";
-- But for the floor of periods (sql/011), which only pez.advance_period raises, with its owner's
-- rights: pezd's role could otherwise move every periodic sequence's period ahead.
REVOKE UPDATE ON pez._period_floor FROM :"pezd";

-- The functions of schema pez (pez.take, pez.reserve, pez.usage for the rates and forecasts, ...)
-- need nothing more: every role may call a function unless its owner revoked that. With SELECT
-- on the sequences above, pez.usage reads where each of them stands.

-- pez admin create, reset and drop through pezd (leave these out to keep them to the owner):
-- creating sequences in the schema, recording them in pez.sequences. A sequence pezd created is
-- its own, so it may drop it; one the owner created stays the owner's to drop.
GRANT CREATE ON SCHEMA pez TO :"pezd";
GRANT INSERT, UPDATE, DELETE ON pez.sequences TO :"pezd";

-- Not granted here, for only a role with ADMIN on pg_monitor (a superuser, or the managed
-- service's administrator) may give it: GRANT pg_monitor TO the role of pezd lets pezd see in
-- pg_stat_replication whether the standbys are synchronous (pezd(8), "Failover and standbys").
-- Without it pezd still works, and says in its log and pez status that it cannot tell.
