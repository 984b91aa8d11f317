-- SPDX-License-Identifier: Apache-2.0
-- PEZ schema version 9: a sequence's row of pez.sequences found through its index, so that a
-- take or a reserve costs the same beside 10 sequences as beside 100,000.
--
-- Version 7's takers found a sequence's row with pez.sequences s JOIN pg_class c ON c.relname =
-- s.name: relname is of type name, whose collation is "C", and pez.sequences' primary key is on
-- text in the database's default collation, so that comparison could not use the key and every
-- take, reserve and period check read the whole of pez.sequences (3 ms beside 11,000 sequences;
-- a reserve of blocks for 32 sequences took 90 ms). Here the name is compared in the default
-- collation, which the key is in. pez.usage (version 8) joined pez.sequences the same way. Nothing
-- else changes: the functions below are those of versions 7 and 8 with that comparison alone
-- rewritten.
--
-- A pezd role that did not run this file itself needs nothing more than for version 8. Running
-- this file again changes nothing.

BEGIN;

SELECT pg_advisory_xact_lock(7365978);

-- As in version 7.
CREATE OR REPLACE FUNCTION pez.advance_period(seq regclass, OUT entered boolean, OUT period date,
                                              OUT valid_for double precision)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    entry record;
    unit text;
    t timestamptz;
    p date;
    ends timestamptz;
BEGIN
    entered := false;
    SELECT s.name, s.period, s.time_zone INTO entry
      FROM pez.sequences s JOIN pg_class c ON s.name = c.relname::text COLLATE pg_catalog."default"
     WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace;
    IF NOT FOUND OR entry.period IS NULL THEN
        entered := NULL;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(pez.lock_key(seq));
    -- Read under the lock: another taker may have entered a period meanwhile.
    SELECT s.current_period INTO period FROM pez.sequences s WHERE s.name = entry.name;
    unit := CASE entry.period WHEN 'yearly' THEN 'year' WHEN 'monthly' THEN 'month' ELSE 'day' END;
    t := pez.now();
    p := date_trunc(unit, t AT TIME ZONE entry.time_zone)::date;
    IF period IS NULL OR p > period THEN
        entered := period IS NOT NULL;
        period := p;
        UPDATE pez.sequences SET current_period = p WHERE name = entry.name;
    END IF;
    ends := (period::timestamp + ('1 ' || unit)::interval) AT TIME ZONE entry.time_zone;
    valid_for := greatest(extract(epoch FROM ends - t), 0);
END
$$;

-- As in version 7.
CREATE OR REPLACE FUNCTION pez.take_dated(seq regclass, n integer, OUT period date, OUT numbers bigint[])
    LANGUAGE plpgsql
    AS $$
DECLARE
    opts record;
    left_over numeric;
    periodic boolean;
    was_value bigint;
    was_called boolean;
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
    periodic := EXISTS (SELECT 1 FROM pez.sequences s
                           JOIN pg_catalog.pg_class c ON s.name = c.relname::text COLLATE pg_catalog."default"
                         WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace AND s.period IS NOT NULL);
    -- More than one pass of a cycling sequence: refused before anything changes (a periodic one
    -- has not entered its period yet).
    IF opts.seqcycle AND n > pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1 THEN
        RAISE EXCEPTION 'pez.take: % holds % numbers before it starts over, fewer than the % asked for',
            seq, pg_catalog.div(opts.seqmax::numeric - opts.seqmin, abs(opts.seqincrement::numeric)) + 1, n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF opts.seqcycle AND NOT periodic THEN
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(pez.lock_key(seq));
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = seq) THEN
            RAISE EXCEPTION 'sequence % was dropped', seq USING ERRCODE = 'undefined_table';
        END IF;
    ELSE
        -- Alone: a take of a periodic sequence may start a new period (setval), and one without
        -- cycle checks what is left.
        PERFORM pg_catalog.pg_advisory_xact_lock(pez.lock_key(seq));
        IF periodic THEN
            EXECUTE pg_catalog.format('SELECT last_value, is_called FROM %s', seq) INTO was_value, was_called;
            SELECT e.period INTO period FROM pez.enter_period(seq) e;
        END IF;
        IF NOT opts.seqcycle THEN
            left_over := pez.numbers_left(seq);
            IF left_over < n THEN
                IF periodic THEN
                    -- The refusal rolls back the period entered, but not the counter's start
                    -- again (setval is not transactional): the counter goes back too, or a clock
                    -- that went back into the period entered before would give its numbers again.
                    PERFORM pg_catalog.setval(seq, was_value, was_called);
                END IF;
                RAISE EXCEPTION 'pez.take: % has % numbers left and does not cycle, fewer than the % asked for',
                    seq, left_over, n USING ERRCODE = 'sequence_generator_limit_exceeded';
            END IF;
        END IF;
    END IF;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'pez', '');
    numbers := ARRAY(SELECT pg_catalog.nextval(seq) FROM pg_catalog.generate_series(1, n));
END
$$;

-- As in version 7.
CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    opts record;
    left_over numeric;
BEGIN
    -- A periodic sequence: through pez.take_dated, which enters its period. Any other: as in
    -- version 6 (pezd sends this statement for those: it costs less than pez.take_dated).
    IF EXISTS (SELECT 1 FROM pez.sequences s
                 JOIN pg_catalog.pg_class c ON s.name = c.relname::text COLLATE pg_catalog."default"
                WHERE c.oid = seq AND c.relnamespace = 'pez'::regnamespace AND s.period IS NOT NULL) THEN
        RETURN QUERY SELECT pg_catalog.unnest(t.numbers) FROM pez.take_dated(seq, n) t;
        RETURN;
    END IF;
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

-- As in version 7.
CREATE OR REPLACE FUNCTION pez.reserve_dated(seq regclass, n bigint,
                                             OUT first_value bigint, OUT last_value bigint, OUT increment bigint,
                                             OUT generation bigint, OUT period date, OUT valid_for double precision)
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
    SELECT e.period, e.valid_for INTO period, valid_for FROM pez.enter_period(seq) e;
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

    room := div(CASE WHEN opts.seqincrement > 0 THEN opts.seqmax - next_value ELSE next_value - opts.seqmin END,
                abs(opts.seqincrement::numeric));
    first_value := next_value;
    last_value := next_value + least(n - 1, room) * opts.seqincrement;
    PERFORM setval(seq, last_value, true);
    increment := opts.seqincrement;
    SELECT s.generation INTO generation
      FROM pez.sequences s JOIN pg_class c ON s.name = c.relname::text COLLATE pg_catalog."default"
     WHERE c.oid = seq;
    generation := coalesce(generation, 0);
END
$$;

-- As in version 8.
CREATE OR REPLACE FUNCTION pez.usage(after_name text DEFAULT NULL, most integer DEFAULT 500)
    RETURNS TABLE (name text, identity oid, generation bigint, increment bigint, min_value bigint,
                   max_value bigint, start_value bigint, cycle boolean, last_value bigint, is_called boolean,
                   period text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET lock_timeout = '1s'
    AS $$
DECLARE
    r record;
BEGIN
    -- The page in the order of the index on pg_class's names (type name compares bytewise).
    FOR r IN SELECT c.oid, c.relname::text AS relname, coalesce(p.generation, 0) AS generation,
                    s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle,
                    to_char(p.current_period, 'YYYYMMDD') AS period
               FROM (SELECT k.oid, k.relname FROM pg_class k
                      WHERE k.relnamespace = 'pez'::regnamespace AND k.relkind = 'S'
                        AND (after_name IS NULL OR k.relname > after_name::name)
                      ORDER BY k.relname LIMIT greatest(coalesce(most, 500), 1)) c
               JOIN pg_sequence s ON s.seqrelid = c.oid
               LEFT JOIN pez.sequences p ON p.name = c.relname::text COLLATE pg_catalog."default"
              ORDER BY c.relname
    LOOP
        name := r.relname;
        identity := r.oid;
        generation := r.generation;
        increment := r.seqincrement;
        min_value := r.seqmin;
        max_value := r.seqmax;
        start_value := r.seqstart;
        cycle := r.seqcycle;
        period := r.period;
        last_value := NULL;
        is_called := NULL;
        IF r.relname ~ '^[a-z][a-z0-9_-]{0,47}$' AND coalesce(has_sequence_privilege(r.oid, 'SELECT'), false) THEN
            BEGIN
                -- Cheap, but NULL for a sequence not called yet (new, or just reset): then read it.
                last_value := pg_sequence_last_value(r.oid);
                is_called := last_value IS NOT NULL;
                IF NOT is_called THEN
                    EXECUTE format('SELECT last_value FROM pez.%I', r.relname) INTO last_value;
                END IF;
            EXCEPTION
                -- Dropped since the page was listed ("could not open relation with OID" is an
                -- internal error), or held by another transaction.
                WHEN undefined_table OR internal_error OR lock_not_available THEN
                    last_value := NULL;
                    is_called := NULL;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

INSERT INTO pez.schema_migrations (version, name) VALUES (9, 'lookups') ON CONFLICT (version) DO NOTHING;

COMMIT;
