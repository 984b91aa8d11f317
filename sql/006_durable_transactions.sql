-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 6: durability is a property of each taking transaction, not of a session.
--
-- A number counts only once the commit that took it is flushed, and on a synchronous standby
-- (see 004_durable_take.sql). pezd used to turn synchronous_commit on for its session; behind a
-- connection pooler in transaction mode (PgBouncer) the next transaction may run on another
-- server connection where the server's or the role's default is in force, and with a default of
-- off a commit would be answered before it is flushed. So pez.take and pez.reserve now turn it
-- on for their own transaction (set_config(..., true) lasts until that transaction ends), unless
-- it is on already or the stronger remote_apply. Whoever calls them by hand gets the same.
--
-- A pezd role that did not run this file itself needs nothing more than for version 5. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- Turns synchronous_commit on for the calling transaction.
CREATE OR REPLACE FUNCTION pez.durable() RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF pg_catalog.current_setting('synchronous_commit') NOT IN ('on', 'remote_apply') THEN
        PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
    END IF;
END
$$;

-- As in version 5, durable whatever the session's settings.
CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    opts record;
    left_over numeric;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'pez.take: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pez.durable();
    SELECT s.seqincrement, s.seqmin, s.seqmax, s.seqcycle INTO opts
      FROM pg_catalog.pg_sequence s WHERE s.seqrelid = seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
    END IF;
    IF opts.seqcycle THEN
        IF n > pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1 THEN
            RAISE EXCEPTION 'pez.take: % holds % numbers before it starts over, fewer than the % asked for',
                seq, pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1, n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pez.lock_key(seq));
        -- A drop that held the lock while this waited for it leaves nothing to take from.
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = seq) THEN
            RAISE EXCEPTION 'sequence % was dropped', seq USING ERRCODE = 'undefined_table';
        END IF;
    ELSE
        PERFORM pg_catalog.pg_advisory_xact_lock(pez.lock_key(seq));
        left_over := pez.numbers_left(seq);
        IF left_over < n THEN
            RAISE EXCEPTION 'pez.take: % has % numbers left and does not cycle, fewer than the % asked for',
                seq, left_over, n USING ERRCODE = 'sequence_generator_limit_exceeded';
        END IF;
    END IF;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
    RETURN QUERY SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n);
END
$$;

-- As in version 5, durable whatever the session's settings.
CREATE OR REPLACE FUNCTION pez.reserve(seq regclass, n bigint,
                                       OUT first_value bigint, OUT last_value bigint, OUT increment bigint,
                                       OUT generation bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    opts pg_sequence%ROWTYPE;
    current_value bigint;
    called boolean;
    next_value numeric;
    room numeric;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'pez.reserve: n must be 1 or more, got %', n USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pez.durable();
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    SELECT * INTO opts FROM pg_sequence WHERE seqrelid = seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a sequence', seq USING ERRCODE = 'wrong_object_type';
    END IF;
    EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO current_value, called;

    next_value := current_value;
    IF called THEN
        next_value := next_value + opts.seqincrement;
    END IF;
    IF next_value > opts.seqmax OR next_value < opts.seqmin THEN
        IF NOT opts.seqcycle THEN
            RAISE EXCEPTION 'nextval: reached % value of sequence "%" (%)',
                CASE WHEN opts.seqincrement > 0 THEN 'maximum' ELSE 'minimum' END, seq,
                CASE WHEN opts.seqincrement > 0 THEN opts.seqmax ELSE opts.seqmin END
                USING ERRCODE = 'sequence_generator_limit_exceeded';
        END IF;
        next_value := CASE WHEN opts.seqincrement > 0 THEN opts.seqmin ELSE opts.seqmax END;
    END IF;

    -- Whole steps that fit between the first number and the end of the range.
    room := div(CASE WHEN opts.seqincrement > 0 THEN opts.seqmax - next_value ELSE next_value - opts.seqmin END,
                abs(opts.seqincrement::numeric));
    first_value := next_value;
    last_value := next_value + least(n - 1, room) * opts.seqincrement;
    -- setval writes WAL in this transaction: its commit is flushed before the block is answered.
    PERFORM setval(seq, last_value, true);
    increment := opts.seqincrement;
    SELECT s.generation INTO generation FROM pez.sequences s JOIN pg_class c ON c.relname = s.name
     WHERE c.oid = seq;
    generation := coalesce(generation, 0);
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (6, 'durable transactions') ON CONFLICT (version) DO NOTHING;

COMMIT;
