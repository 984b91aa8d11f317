-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 4: pez.take's commit is durable, and replicated to a synchronous standby,
-- before its numbers are answered.
--
-- PostgreSQL logs a sequence ahead: one nextval() writes a WAL record covering the next 32
-- values, and the nextval() calls of other sessions take values from that range writing no WAL
-- of their own. Their numbers are safe only once that record is flushed (and, with synchronous
-- replication, on the standby). PostgreSQL flushes a commit, and waits for a synchronous standby,
-- only when the transaction itself wrote WAL before committing. A transaction id is not enough
-- (version 2 relied on one): it writes no WAL, so its commit is written but not waited for, and
-- a crash or a failover right after the answer could bring the numbers back.
--
-- So pez.take writes a record of its own: a transactional logical message (prefix 'pez', empty,
-- ignored by anyone not decoding it). Its commit then flushes everything before it, the range
-- the numbers came from included, and waits for the synchronous standbys. pez.reserve needs no
-- change: its setval() writes WAL in the transaction already.
--
-- A pezd role that did not run this file itself needs nothing more than for version 2. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- n numbers from seq, in the sequence's order; durable once the calling transaction commits.
-- (Version 5 replaces this function with one that takes all n numbers or none: once it is
-- applied, running this file again leaves that one alone.)
-- (No SET search_path: it costs a sixth of a take. The names are qualified instead, and the
-- function runs with its caller's rights.)
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pez.schema_migrations WHERE version >= 5) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint
        LANGUAGE plpgsql
        AS $take$
    BEGIN
        IF n IS NULL OR n < 1 THEN
            RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pez.lock_key(seq));
        PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
        RETURN QUERY SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n);
    END
    $take$;
END
$migration$;

INSERT INTO pez.schema_migrations (version, name) VALUES (4, 'durable take') ON CONFLICT (version) DO NOTHING;

COMMIT;
