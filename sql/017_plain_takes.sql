-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 17: a take of several plain sequences in three statements, not one
-- subtransaction each.
--
-- pez.take_many (versions 13 and 14) took each sequence in a subtransaction of its own, through
-- pez.take_dated_part: beside 10,000 sequences, where requests spread over many sequences need a
-- take each, that cost PostgreSQL 35-40 microseconds a take against 3-5 for a nextval, and it
-- was what bounded strict mode there. Most takes are of plain sequences: they cycle, have no
-- period, and are asked for no more numbers than one pass holds. When every sequence of the
-- statement is such a one, and pezd's role may take from each, pez.take_many now looks them up
-- together, takes their locks in the order given (shared, as pez.take_dated_part does for such a
-- sequence), checks that none was dropped while it waited, and takes all the numbers in one
-- statement. Otherwise, or when one was dropped, it goes on as in version 14: each take apart,
-- each refusal in its own row. What each row answers is the same either way.
--
-- A pezd role that did not run this file itself needs nothing more than for version 16. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

CREATE OR REPLACE FUNCTION pez.take_many(names text[], counts integer[])
    RETURNS TABLE (period date, numbers bigint[], error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ask record;
    seqs regclass[];
    plain boolean;
    taken bigint[];
BEGIN
    IF cardinality(names) IS DISTINCT FROM cardinality(counts) THEN
        RAISE EXCEPTION 'pez.take_many: % names and % counts', cardinality(names), cardinality(counts)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Once for the whole statement, outside the takes' subtransactions: synchronous_commit on,
    -- and a message, so that the commit is flushed with every take that kept its numbers.
    PERFORM pez.durable();
    PERFORM pg_logical_emit_message(true, 'pez', '');

    -- Plain: a sequence of schema pez that cycles, a count of 1 up to what one pass holds, and
    -- the right to take from it. to_regclass and the lateral lookup find each by index, whatever
    -- plan the function's cache keeps for an array of unknown length.
    SELECT array_agg(u.seq ORDER BY u.i),
           coalesce(bool_and(CASE WHEN q.seqrelid IS NULL OR NOT q.seqcycle OR u.n IS NULL OR u.n < 1 THEN false
                                  WHEN u.n > div(q.seqmax::numeric - q.seqmin, abs(q.seqincrement::numeric)) + 1 THEN false
                                  ELSE has_sequence_privilege(u.seq, 'USAGE, UPDATE') END), false)
      INTO seqs, plain
      FROM (SELECT to_regclass('pez.' || quote_ident(a.name)) AS seq, a.n, a.i
              FROM unnest(names, counts) WITH ORDINALITY AS a(name, n, i)) u
      LEFT JOIN LATERAL (SELECT s.seqrelid, s.seqcycle, s.seqmin, s.seqmax, s.seqincrement
                           FROM pg_sequence s WHERE s.seqrelid = u.seq) q ON true;
    -- ... and without a period (the name's index in the "C" collation, 009_lookups.sql).
    IF plain AND NOT EXISTS (SELECT 1 FROM pez.sequences s
                              WHERE s.name COLLATE "C" = ANY (names) AND s.period IS NOT NULL) THEN
        -- In the order given: the caller sorts by name, so takes cannot deadlock with each other,
        -- nor with a drop or reset, which hold the lock alone.
        PERFORM count(pg_advisory_xact_lock_shared(pez.lock_key(s.seq)))
           FROM unnest(seqs) WITH ORDINALITY AS s(seq, i);
        -- A drop that held a lock while this waited leaves nothing to take from: each take apart
        -- then says which one.
        IF NOT EXISTS (SELECT 1 FROM unnest(seqs) AS s(seq)
                        WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.seq)) THEN
            taken := ARRAY(SELECT nextval(x.seq)
                             FROM unnest(seqs, counts) WITH ORDINALITY AS x(seq, n, i),
                                  generate_series(1, x.n) AS g(k)
                            ORDER BY x.i, g.k);
            RETURN QUERY
                SELECT NULL::date, taken[o.upto - o.n + 1 : o.upto], NULL::text, NULL::text
                  FROM (SELECT c.n, c.i, sum(c.n) OVER (ORDER BY c.i) AS upto
                          FROM unnest(counts) WITH ORDINALITY AS c(n, i)) o
                 ORDER BY o.i;
            RETURN;
        END IF;
    END IF;

    -- As in version 14: each take apart, in a subtransaction.
    FOR ask IN SELECT u.name, u.n FROM unnest(names, counts) WITH ORDINALITY AS u(name, n, i) ORDER BY u.i LOOP
        period := NULL;
        numbers := NULL;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            SELECT t.period, t.numbers INTO period, numbers
              FROM pez.take_dated_part(('pez.' || quote_ident(ask.name))::regclass, ask.n) t;
        EXCEPTION
            -- What the sequence itself refuses, as in pez.reserve_many: anything else fails the
            -- statement, as it would a single take.
            WHEN sequence_generator_limit_exceeded OR undefined_table OR wrong_object_type
                 OR invalid_parameter_value OR insufficient_privilege THEN
                GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (17, 'plain_takes') ON CONFLICT (version) DO NOTHING;

COMMIT;
