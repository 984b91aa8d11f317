-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 22: pez.take_many and pez.reserve_many find each sequence through an index
-- however many there are.
--
-- Their plain paths (versions 17 and 18) look up each sequence asked for in pg_sequence and
-- pez.sequences by its key, and keep one plan of each statement for the session (version 19),
-- made for an array of unknown length (PostgreSQL assumes ten elements). Beside one to three
-- thousand sequences PostgreSQL's estimates made a hash join over the whole of pg_sequence look
-- cheaper than ten look-ups, so that every take or reserve of a few sequences read all of its
-- rows (and reserve_many's loop joined them so too): beside 2,000 sequences a take of one
-- sequence cost 0.22-0.37 ms in place of 0.11-0.13, a take of 17 sequences 0.42-0.69 ms in place
-- of 0.28-0.50, and a reserve of 17 blocks 0.58-0.67 ms in place of 0.32-0.36 (pgbench, one
-- session, the two settings in turns); beside fewer the scan is short, beside more the look-ups
-- won already. Sequential scans are now left aside while either function runs, so that each row
-- is found through its key (every table and catalog they read has one) at every size;
-- tests/integration/test_catalog.py holds them to it beside 2,000 sequences.
--
-- CREATE OR REPLACE FUNCTION sets what it names and drops the rest: a later version that
-- replaces either function keeps this setting and version 19's in its SET clause.
--
-- A pezd role that did not run this file itself needs nothing more than for version 21. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

ALTER FUNCTION pez.take_many(text[], integer[]) SET enable_seqscan = off;
ALTER FUNCTION pez.reserve_many(text[], bigint[]) SET enable_seqscan = off;

INSERT INTO pez.schema_migrations (version, name) VALUES (22, 'index_lookups') ON CONFLICT (version) DO NOTHING;

COMMIT;
