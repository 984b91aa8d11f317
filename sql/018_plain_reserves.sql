-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 18: blocks of several plain sequences reserved without a subtransaction
-- each.
--
-- pez.reserve_many (version 12) reserved each block in a subtransaction of its own, through
-- pez.reserve_dated: its period, a read of the sequence by a statement built for it (parsed and
-- planned each time), setval, and its generation. Where requests spread over many sequences (the
-- first block of each, or blocks running low together), that cost PostgreSQL 150-200
-- microseconds a block. Most blocks are of plain sequences: they cycle, have no period, keep no
-- numbers in a session of their own (CACHE 1), and pezd's role may read and set them.
-- pez.reserve_many now takes the lock of every sequence asked for first (alone, in the order
-- given, as each reserve does), then looks at them under their locks: when all are plain, each
-- block is the sequence's next number (nextval: past its end it starts again at the other end,
-- as it cycles) up to as many more as were asked for and its range still holds, set as its last
-- value, with no subtransaction (no such block can be refused); otherwise each is reserved apart
-- as in version 12. What each row answers is the same either way, but for a sequence dropped
-- while the statement waited for its lock: it is answered as missing (42P01), as a take's is,
-- where version 12 answered that it was not a sequence (42809).
--
-- A pezd role that did not run this file itself needs nothing more than for version 17. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE OR REPLACE FUNCTION pez.reserve_many(names text[], counts bigint[])
    RETURNS TABLE (first_value bigint, last_value bigint, increment bigint, generation bigint, period date,
                   valid_for double precision, error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ask record;
    seqs regclass[];
    plain boolean;
    room numeric;
BEGIN
    IF cardinality(names) IS DISTINCT FROM cardinality(counts) THEN
        RAISE EXCEPTION 'pez.reserve_many: % names and % counts', cardinality(names), cardinality(counts)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Once for the whole statement, as each reserve does for itself: its commit is flushed before
    -- any block is answered.
    PERFORM pez.durable();

    -- The lock of each sequence there is, in the order given (the caller sorts by name, so
    -- reserves cannot deadlock with each other, nor with a drop or reset, which take the same
    -- locks). A reserve apart below takes its own again, which it already holds.
    seqs := ARRAY(SELECT to_regclass('pez.' || quote_ident(a.name))
                    FROM unnest(names) WITH ORDINALITY AS a(name, i) ORDER BY a.i);
    PERFORM count(pg_advisory_xact_lock(pez.lock_key(s.seq))) FROM unnest(seqs) AS s(seq);

    -- Under the locks, so that a drop, a reset or a change of options that this waited for is
    -- seen: plain is a sequence that cycles, CACHE 1, a count of 1 or more, the rights
    -- pez.reserve_dated uses (it reads the sequence and sets it), and no period (the name's index
    -- in the "C" collation, 009_lookups.sql). to_regclass and the lateral lookup find each by
    -- index, whatever plan the function's cache keeps for an array of unknown length.
    SELECT coalesce(bool_and(CASE WHEN q.seqrelid IS NULL OR NOT q.seqcycle OR q.seqcache <> 1
                                       OR u.n IS NULL OR u.n < 1 THEN false
                                  ELSE has_sequence_privilege(u.seq, 'SELECT')
                                       AND has_sequence_privilege(u.seq, 'UPDATE') END), false)
      INTO plain
      FROM unnest(seqs, counts) AS u(seq, n)
      LEFT JOIN LATERAL (SELECT s.seqrelid, s.seqcycle, s.seqcache
                           FROM pg_sequence s WHERE s.seqrelid = u.seq) q ON true;
    IF plain AND NOT EXISTS (SELECT 1 FROM pez.sequences s
                              WHERE s.name COLLATE "C" = ANY (names) AND s.period IS NOT NULL) THEN
        FOR ask IN SELECT u.seq, u.n, q.seqmin, q.seqmax, q.seqincrement, g.generation
                     FROM unnest(seqs, counts, names) WITH ORDINALITY AS u(seq, n, name, i)
                     JOIN pg_sequence q ON q.seqrelid = u.seq
                     LEFT JOIN LATERAL (SELECT s.generation FROM pez.sequences s
                                         WHERE s.name COLLATE "C" = u.name) g ON true
                    ORDER BY u.i LOOP
            -- The next number, as pez.reserve_dated works it out from the last one: past the end
            -- of the range the sequence starts again at its other end.
            first_value := nextval(ask.seq);
            -- Whole steps that fit between the first number and the end of the range.
            room := div(CASE WHEN ask.seqincrement > 0 THEN ask.seqmax - first_value::numeric
                             ELSE first_value::numeric - ask.seqmin END,
                        abs(ask.seqincrement::numeric));
            last_value := first_value + least(ask.n - 1, room) * ask.seqincrement;
            -- setval writes WAL in this transaction: its commit is flushed before the block is
            -- answered.
            PERFORM setval(ask.seq, last_value, true);
            increment := ask.seqincrement;
            generation := coalesce(ask.generation, 0);
            period := NULL;
            valid_for := NULL;
            error_code := NULL;
            error_message := NULL;
            RETURN NEXT;
        END LOOP;
        RETURN;
    END IF;

    -- As in version 12: each reserve apart, in a subtransaction.
    FOR ask IN SELECT u.name, u.n FROM unnest(names, counts) WITH ORDINALITY AS u(name, n, i) ORDER BY u.i LOOP
        first_value := NULL;
        last_value := NULL;
        increment := NULL;
        generation := NULL;
        period := NULL;
        valid_for := NULL;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            SELECT r.first_value, r.last_value, r.increment, r.generation, r.period, r.valid_for
              INTO first_value, last_value, increment, generation, period, valid_for
              FROM pez.reserve_dated(('pez.' || quote_ident(ask.name))::regclass, ask.n) r;
        EXCEPTION
            -- What the sequence itself refuses: run out, missing (dropped, or never made), not a
            -- sequence, a count out of range, no right to it. Anything else fails the statement,
            -- as it would a single reserve.
            WHEN sequence_generator_limit_exceeded OR undefined_table OR wrong_object_type
                 OR invalid_parameter_value OR insufficient_privilege THEN
                GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (18, 'plain_reserves') ON CONFLICT (version) DO NOTHING;

COMMIT;
