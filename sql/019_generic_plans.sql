-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 19: the statements of pez.take_many and pez.reserve_many planned once a
-- session.
--
-- The plain paths of pez.take_many (version 17) and pez.reserve_many (version 18) run a few
-- statements over the arrays they are given. PL/pgSQL keeps a plan of each statement for the
-- session, but PostgreSQL may instead plan it again at every call for the values of that call
-- (plan_cache_mode auto): it does so when such a plan looks cheaper than the kept one, which it
-- does for the short arrays of a daemon serving a few sequences. Planned again each time, a take
-- of two or four sequences cost PostgreSQL 790-980 microseconds instead of 290-310, and a reserve
-- of two 480-600 instead of 190-240. These statements were written to find every row through an
-- index whatever the plan (sql/017_plain_takes.sql, sql/018_plain_reserves.sql): both functions
-- now keep theirs (plan_cache_mode force_generic_plan, while they run). Strict pezd serving
-- requests spread over four sequences answered 1.2-1.3 times as many a second, at 18 in place
-- of 26-28 microseconds of PostgreSQL's time a request; over 100 or 10,000 sequences, where the
-- arrays are longer and the kept plans were mostly used already, nothing changed.
--
-- CREATE OR REPLACE FUNCTION sets what it names and drops the rest: a later version that
-- replaces either function keeps this setting in its SET clause (tests/integration/
-- test_catalog.py counts the plans).
--
-- A pezd role that did not run this file itself needs nothing more than for version 18. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

ALTER FUNCTION pez.take_many(text[], integer[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION pez.reserve_many(text[], bigint[]) SET plan_cache_mode = force_generic_plan;

INSERT INTO pez.schema_migrations (version, name) VALUES (19, 'generic_plans') ON CONFLICT (version) DO NOTHING;

COMMIT;
