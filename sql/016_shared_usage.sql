-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 16: one reading of where the sequences stand, shared by the daemons of a role.
--
-- Every pezd reads every sequence's position each usage_interval (sql/008_usage.sql). Beside
-- 10,000 sequences a reading costs PostgreSQL about 100 ms (300 ms while the sequences are new,
-- and 300-400 ms more on a connection that has not opened them yet), and every daemon made its
-- own: 16 daemons kept a core of the database a third to two thirds busy doing the same work 16
-- times. Now the daemons that connect as one role share one reading an interval. Each interval a
-- daemon claims the round (pez.usage_claim): when the role's last round began long enough ago
-- (the same daemon keeps reading while it is there), it gets a round number, reads the
-- positions page by page as before and stores each page with the time it was read
-- (pez.usage_refresh), then drops the pages the round did not write (pez.usage_finish);
-- otherwise it reads the stored pages (pez.usage_stored), about 10 ms for 10,000 sequences. Each
-- position carries the time (the database's clock) it was read at, so that every daemon's rates
-- come out the same whoever read it.
--
-- Readings are kept per role (session_user): a daemon sees only what a daemon with its own
-- rights read. The tables are unlogged: nothing in them is needed after a crash or on a promoted
-- standby, where the next round fills them again. Only these functions touch them (with their
-- owner's rights); pez.usage_store keeps only positions of sequences there are, at most 1,000 a
-- page and a page per sequence, so that a role can neither fill the table nor see another role's
-- rows. A role may store false positions for itself: they mislead only its own rates, as taking
-- numbers it may take already could.
--
-- A pezd role that did not run this file itself needs nothing more than for version 15.
-- Running this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- The last round of each role: its number, when it was claimed (the database's clock) and by
-- which daemon (an identity each daemon makes up when it starts).
CREATE UNLOGGED TABLE IF NOT EXISTS pez.usage_rounds (
    reader name PRIMARY KEY,
    round bigint NOT NULL,
    started timestamptz NOT NULL,
    daemon text NOT NULL
);

-- A row of pez.usage(): a position as a page stores it.
DO $$
BEGIN
    CREATE TYPE pez.usage_position AS (name text, identity oid, generation bigint, increment bigint,
                                       min_value bigint, max_value bigint, start_value bigint, cycle boolean,
                                       last_value bigint, is_called boolean, period text);
EXCEPTION
    WHEN duplicate_object THEN NULL;
END
$$;

-- The pages of each role's latest readings, each under its first sequence's name: when it was
-- read (milliseconds since 1970, the database's clock) and in which round. Pages a round did
-- not write (their first sequence dropped, or another first now) go when that round ends.
CREATE UNLOGGED TABLE IF NOT EXISTS pez.usage_pages (
    reader name NOT NULL,
    first_name text COLLATE "C" NOT NULL,
    round bigint NOT NULL,
    read_at bigint NOT NULL,
    positions pez.usage_position[] NOT NULL,
    PRIMARY KEY (reader, first_name)
);

REVOKE ALL ON pez.usage_rounds, pez.usage_pages FROM PUBLIC;

-- The round number when the caller, the daemon named daemon, is to read this interval, NULL when
-- another daemon of the role reads it: then pez.usage_stored answers. The daemon that claimed the
-- last round claims the next once it began at least 0.9 x every ago; another only once it began
-- 1.5 x every ago (that daemon stopped, or is late), so that one daemon keeps reading, on a
-- connection that has opened the sequences already (a connection's first reading costs several
-- times the next). A clock gone back frees the round too. Concurrent claims queue on the role's
-- row, and only the first finds it free.
CREATE OR REPLACE FUNCTION pez.usage_claim(every interval, daemon text)
    RETURNS bigint
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    INSERT INTO pez.usage_rounds AS r (reader, round, started, daemon)
    VALUES (session_user, 1, clock_timestamp(), coalesce(usage_claim.daemon, ''))
    ON CONFLICT (reader) DO UPDATE SET round = r.round + 1, started = excluded.started, daemon = excluded.daemon
     WHERE r.started <= excluded.started - coalesce(every, interval '0')
                        * CASE WHEN r.daemon = excluded.daemon THEN 0.9 ELSE 1.5 END
        OR r.started > excluded.started
    RETURNING r.round
$$;

-- Stores a page of positions read at the time at (ms since 1970) in the given round, as the page
-- of its first sequence; a page never replaces one read later (rounds may overlap when one
-- outlasts the interval). Positions that name no sequence of schema pez by name and oid (dropped
-- since they were read) are left out; a page of more than 1,000 is refused.
CREATE OR REPLACE FUNCTION pez.usage_store(round bigint, at bigint, page pez.usage_position[])
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kept pez.usage_position[];
BEGIN
    IF cardinality(page) > 1000 THEN
        RAISE EXCEPTION 'a page of usage holds at most 1000 positions, not %', cardinality(page)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A scalar subquery a position: an index probe each (a join would read all of pg_class).
    SELECT array_agg(p ORDER BY p.name COLLATE "C") INTO kept
      FROM unnest(page) p
     WHERE (SELECT c.relname FROM pg_class c
             WHERE c.oid = p.identity AND c.relnamespace = 'pez'::regnamespace AND c.relkind = 'S') = p.name::name;
    IF kept IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO pez.usage_pages AS r (reader, first_name, round, read_at, positions)
    VALUES (session_user, kept[1].name, usage_store.round, usage_store.at, kept)
    ON CONFLICT ON CONSTRAINT usage_pages_pkey DO UPDATE
       SET round = greatest(r.round, excluded.round), read_at = excluded.read_at, positions = excluded.positions
     WHERE r.read_at < excluded.read_at;
END
$$;

-- A page of where the sequences stand (pez.usage, with the caller's rights), read now, stored for
-- the role's other daemons (pez.usage_store), and answered with the time it was read at. The
-- page's last name goes to the next call as after_name; a page of fewer than most rows is the
-- last, and pez.usage_finish ends the round.
CREATE OR REPLACE FUNCTION pez.usage_refresh(round bigint, after_name text DEFAULT NULL, most integer DEFAULT 500)
    RETURNS TABLE (name text, identity oid, generation bigint, increment bigint, min_value bigint,
                   max_value bigint, start_value bigint, cycle boolean, last_value bigint, is_called boolean,
                   period text, read_at bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    page pez.usage_position[];
    at bigint;
BEGIN
    SELECT coalesce(array_agg(ROW(u.name, u.identity, u.generation, u.increment, u.min_value, u.max_value,
                                  u.start_value, u.cycle, u.last_value, u.is_called, u.period)::pez.usage_position
                              ORDER BY u.name COLLATE "C"), '{}')
      INTO page
      FROM pez.usage(after_name, most) u;
    at := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    -- Only what was read: a sequence left out (locked) or not served is not for the others.
    PERFORM pez.usage_store(round, at, ARRAY(SELECT p FROM unnest(page) p WHERE p.last_value IS NOT NULL));
    RETURN QUERY SELECT p.*, at FROM unnest(page) p;
END
$$;

-- Ends the caller's round: the role's pages that neither this round nor a later one wrote go.
CREATE OR REPLACE FUNCTION pez.usage_finish(round bigint)
    RETURNS void
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    DELETE FROM pez.usage_pages r WHERE r.reader = session_user AND r.round < usage_finish.round
$$;

-- Every position of the role's stored pages, with the time it was read at (a sequence may come
-- twice while rounds overlap: once as each read it).
CREATE OR REPLACE FUNCTION pez.usage_stored()
    RETURNS TABLE (name text, identity oid, generation bigint, increment bigint, min_value bigint,
                   max_value bigint, start_value bigint, cycle boolean, last_value bigint, is_called boolean,
                   period text, read_at bigint)
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT p.*, r.read_at FROM pez.usage_pages r, unnest(r.positions) p WHERE r.reader = session_user
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (16, 'shared_usage') ON CONFLICT (version) DO NOTHING;

COMMIT;
