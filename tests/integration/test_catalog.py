# SPDX-License-Identifier: Apache-2.0
"""The catalog of sequences as it grows: after the read of every sequence on connecting, a
change, a notice or a name nobody has costs a read of the names concerned alone; in the suite's
mode."""

import json
import threading
import time

import harness
from harness import metric, wait_until

# Who may create sequences in schema pez by hand (the least-privilege stage keeps pezd's role out).
OWNER = harness.OWNER_ROLE if harness.ROLES == "split" else "postgres"


def reads(pezd, kind):
    return metric(pezd.get("/metrics").body, "pez_catalog_reads_total", f'kind="{kind}"')


def settled(pezd):
    """Waits for the first whole read and for every database connection (2 by default) to be
    up: a connection set up later may read the catalog whole once more (when no other connection
    has heard every notice since), which the counts below must not take for the test's doing."""
    wait_until(lambda: reads(pezd, "whole") >= 1, 10, what="the first catalog read")
    wait_until(lambda: metric(pezd.get("/metrics").body, "pez_db_connections") >= 2, 20,
               what="both database connections")


def create_many(pezd, names):
    """Creates names over one socket connection, every request sent before the first answer."""
    client = pezd.lines(timeout=60)
    client.send("".join("CREATE " + json.dumps({"name": name}) + "\n" for name in names))
    answers = [client.read_line() for _ in names]
    assert all(a.startswith("OK ") for a in answers), [a for a in answers if not a.startswith("OK ")][:3]
    return answers


def test_a_change_reads_the_changed_name_alone(pezd, cluster):
    settled(pezd)
    whole = reads(pezd, "whole")
    names = reads(pezd, "names")
    create_many(pezd, [f"c{i:03d}" for i in range(60)])
    # A notice sent by someone else, and a change made in SQL, name one sequence each.
    cluster.psql(pezd.database, "SELECT pg_notify('pez_sequences', 'c007 1')")
    cluster.psql(pezd.database, "SELECT pez.reset_sequence('c008', 5)", user=OWNER)
    wait_until(lambda: pezd.get("/v1/c008").body.strip() == "5", 10, what="the reset to be seen")
    for name in ("c000", "c059"):
        assert pezd.get(f"/v1/{name}").status == 200
    assert reads(pezd, "whole") == whole
    # Each create is read back by its own daemon (and its notice heard): reads of names, shared
    # by changes that come close together.
    assert names < reads(pezd, "names")


def test_an_unknown_name_costs_a_read_of_that_name_alone(pezd):
    settled(pezd)
    # A second after the whole read, a name it did not find is looked up again.
    time.sleep(1.2)
    whole = reads(pezd, "whole")
    names = reads(pezd, "names")
    for i in range(30):
        assert pezd.get(f"/v1/nobody-{i}").status == 404
    # Answered at once while notices are heard, each name read in the background (sequences
    # made by hand): the reads end after the answers.
    wait_until(lambda: reads(pezd, "names") > names, 10, what="the unknown names to be read")
    assert reads(pezd, "whole") == whole
    assert 1 <= reads(pezd, "names") - names <= 30
    # The same name again within a second is answered without a read: at most one read of it a
    # second however often it is asked for.
    names = reads(pezd, "names")
    started = time.monotonic()
    asked = 0
    while asked < 200:
        assert pezd.get("/v1/nobody-again").status == 404
        asked += 1
    seconds = time.monotonic() - started
    assert reads(pezd, "names") - names <= 1 + int(seconds) + 1
    assert reads(pezd, "whole") == whole


def test_names_that_do_not_exist_cost_one_read_a_tenth_of_a_second(pezd):
    """A client asking for a new name that does not exist every few milliseconds (one per tenant,
    or random ones) costs the database one read of the names gathered each tenth of a second, not
    a read each; the other requests nothing."""
    settled(pezd)
    time.sleep(1.2)  # past the second in which the whole read answers for every name
    whole = reads(pezd, "whole")
    names = reads(pezd, "names")
    started = time.monotonic()
    for i in range(100):
        assert pezd.get(f"/v1/nobody-new-{i}").status == 404
        time.sleep(0.01)
    seconds = time.monotonic() - started
    wait_until(lambda: reads(pezd, "names") > names, 10, what="the unknown names to be read")
    time.sleep(0.3)  # the last of them, gathered for a tenth of a second
    read = reads(pezd, "names") - names
    assert 1 <= read <= seconds / 0.1 + 3, f"{read} reads of names for 100 names in {seconds:.2f} s"
    assert read <= 40, f"{read} reads of names for 100 names"
    assert reads(pezd, "whole") == whole


def test_a_name_found_missing_is_served_once_created(pezd, cluster):
    assert pezd.get("/v1/late").status == 404
    # Through another way in than this daemon: the notice makes it known at once.
    cluster.psql(pezd.database, "SELECT pez.create_sequence('late')", user=OWNER)
    wait_until(lambda: pezd.get("/v1/late").status == 200, 10, what="the created sequence")
    # Made by hand, announced to nobody: found by a read of the name a second later.
    assert pezd.get("/v1/by-hand").status == 404
    cluster.psql(pezd.database, "CREATE SEQUENCE pez.\"by-hand\"", user=OWNER)
    wait_until(lambda: pezd.get("/v1/by-hand").status == 200, 10, what="the sequence made by hand")


def test_an_unknown_name_is_answered_without_waiting_for_the_database(start_pezd, cluster):
    # While pezd hears change notices its catalog misses only sequences made by hand: a name it
    # does not hold is answered 404 at once, even while a read of the catalog could not end.
    pezd = start_pezd(["--request-timeout", "1s"])
    wait_until(lambda: reads(pezd, "whole") >= 1, 10, what="the first catalog read")
    time.sleep(1.2)  # past the second in which the whole read answers for every name
    holder = threading.Thread(target=cluster.psql, args=(
        pezd.database, "BEGIN; LOCK TABLE pez.sequences IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT"),
        kwargs={"user": OWNER})
    holder.start()
    try:
        wait_until(lambda: cluster.psql(pezd.database, "SELECT count(*) FROM pg_locks WHERE granted AND mode = "
                                        "'AccessExclusiveLock' AND relation = 'pez.sequences'::regclass") == "1",
                   10, what="the lock")
        assert pezd.get("/v1/nobody-here").status == 404
        assert pezd.get("/v1/nobody-there").status == 404
    finally:
        holder.join()


# Plans of every statement pezd's connections run, those inside pez.* functions too, written to
# PostgreSQL's log; sequential scans only where nothing else can answer.
EXPLAINED = ("-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
             " -c auto_explain.log_nested_statements=on -c enable_seqscan=off")


def plans_since(cluster, offset):
    """(query text, plan) of each plan auto_explain wrote to the cluster's log after offset."""
    text = cluster.log_since(offset)
    plans = []
    for entry in text.split("LOG:  duration: ")[1:]:
        if " plan:" not in entry.split("\n", 1)[0]:
            continue
        query = entry.split("Query Text: ", 1)[1].split("\n", 1)[0] if "Query Text: " in entry else "?"
        plans.append((query, entry))
    return plans


def test_one_sequence_is_found_through_the_key_of_pez_sequences(start_pezd, cluster):
    """A create, a take, a strict take of several sequences, a reserve, a period check, a read of a
    few names (each create's), pez admin inspect and a usage reading each find a sequence's row in
    pez.sequences through its key, never by reading the whole table: beside 10,000 sequences that
    read cost each reserve of a block milliseconds.
    (pg_class's names are of collation "C", pez.sequences' key of the default one: a comparison of
    the two in "C" cannot use the key; sql/009_lookups.sql adds an index in "C".)"""
    # Straight to PostgreSQL, as its superuser: loading auto_explain takes one.
    pezd = start_pezd(["--usage-interval", "200ms"], user="postgres",
                      env={"PGHOST": cluster.dir, "PGPORT": str(cluster.port), "PGOPTIONS": EXPLAINED})
    settled(pezd)
    offset = cluster.log_size()
    client = pezd.lines()
    made = [
        {"name": "plainblock", "mode": "block"},
        {"name": "plainstrict", "mode": "strict"},
        {"name": "datedblock", "mode": "block", "format": "B-{YYYY}-{n}", "period": "yearly"},
        {"name": "datedstrict", "mode": "strict", "format": "S-{YYYY}-{n}", "period": "yearly"},
    ]
    for spec in made:
        answer = client.ask("CREATE " + json.dumps(spec))
        assert answer.startswith("OK "), answer
    for spec in made:
        assert pezd.get(f"/v2/{spec['name']}?count=3").status == 200
    assert pezd.get("/v1/nosuchname").status == 404
    assert pezd.pez("admin", "inspect", "plainblock").returncode == 0
    # Strict takes and block reserves of several sequences (pezd sends them together when they
    # wait together): of plain ones only, and with a periodic one among them
    # (sql/017_plain_takes.sql, sql/018_plain_reserves.sql).
    cluster.psql(pezd.database, "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                                " SET auto_explain.log_nested_statements = on; SET enable_seqscan = off;"
                                " SELECT count(*) FROM pez.take_many(ARRAY['plainblock', 'plainstrict'], ARRAY[1, 1]);"
                                " SELECT count(*) FROM pez.take_many(ARRAY['datedstrict', 'plainstrict'], ARRAY[1, 1]);"
                                " SELECT count(*) FROM pez.reserve_many(ARRAY['plainblock', 'plainstrict'],"
                                " ARRAY[5, 5]);"
                                " SELECT count(*) FROM pez.reserve_many(ARRAY['datedblock', 'plainblock'],"
                                " ARRAY[5, 5])")
    wait_until(lambda: any("pez.usage" in q for q, _ in plans_since(cluster, offset)), 10, what="a usage reading")
    plans = plans_since(cluster, offset)
    queries = " ".join(q for q, _ in plans)
    for called in ("pez.reserve_dated", "pez.take", "pez.usage", "relname = ANY"):
        assert called in queries, f"no plan of a statement with {called} was logged"
    entries = " ".join(plan for _, plan in plans)
    for called in ('s.name COLLATE "C" = ANY (names)', 's.name COLLATE "C" = u.name', "pez.take_dated_part"):
        assert called in entries, f"no plan of a statement with {called} was logged"
    scans = [q for q, plan in plans if "Seq Scan on sequences" in plan]
    assert not scans, f"{len(scans)} plans read the whole of pez.sequences, such as: {scans[0]}"


def test_the_statements_of_several_sequences_are_planned_once_a_session(workdir):
    """pez.take_many and pez.reserve_many keep one plan of each of their statements for the
    session (sql/019_generic_plans.sql), as pg_stat_statements counts them: PostgreSQL otherwise
    planned them again at every call for the values of the call, which made a take of a few
    sequences cost it about three times as much."""
    stats = harness.Cluster(settings={"shared_preload_libraries": "pg_stat_statements",
                                      "pg_stat_statements.track": "all", "pg_stat_statements.track_planning": "on",
                                      # nothing else invalidates a plan meanwhile (an ANALYZE would)
                                      "autovacuum": "off"})
    try:
        db = stats.create_database()
        pezd = harness.Pezd(stats, db, workdir, args=["--mode", "strict"]).start()
        assert pezd.pez("admin", "create", "a").returncode == 0
        assert pezd.pez("admin", "create", "b").returncode == 0
        pezd.stop()
        stats.psql(db, "CREATE EXTENSION pg_stat_statements")
        calls = 20
        # Each function called 20 times in one session of its own, its statements counted apart.
        for statement, expected in (
                ("SELECT count(*) FROM pez.take_many(ARRAY['a', 'b'], ARRAY[1, 1])",
                 ["to_regclass", "pg_advisory_xact_lock_shared", "pg_class c WHERE c.oid = s.seq", "nextval(x.seq)",
                  "s.name COLLATE \"C\" = ANY (names)"]),
                ("SELECT count(*) FROM pez.reserve_many(ARRAY['a', 'b'], ARRAY[5, 5])",
                 ["to_regclass", "pg_advisory_xact_lock(", "s.seqcache", "setval(ask.seq",
                  "s.name COLLATE \"C\" = u.name"])):
            stats.psql(db, "SELECT pg_stat_statements_reset()")
            stats.psql(db, "; ".join([statement] * calls))
            rows = [line.split("|", 2) for line in stats.psql(
                db, "SELECT calls, plans, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements"
                    f" WHERE NOT toplevel AND calls >= {calls} ORDER BY query").splitlines()]
            # The statements of the function's plain path: lookup, locks, the takes or blocks.
            texts = " ".join(query for _, _, query in rows)
            for part in expected:
                assert part in texts, f"no statement with {part} was run {calls} times by {statement}: {rows}"
            replanned = [(plans, query) for _, plans, query in rows if int(plans) > 1]
            assert not replanned, f"{statement}: statements planned more than once in one session: {replanned}"
    finally:
        stats.destroy()


def test_several_sequences_are_found_through_indexes_beside_two_thousand(start_pezd, cluster):
    """pez.take_many and pez.reserve_many find each sequence asked for through an index whatever
    the number of sequences, as the planner is left to choose. Beside about two thousand, where
    PostgreSQL's estimates made a hash join over the whole of pg_sequence look cheaper than a
    look-up a name, each take or reserve of a few sequences read every row of it (a take of 17
    cost 0.42-0.69 ms in place of 0.28-0.50); sql/022_index_lookups.sql."""
    pezd = start_pezd(["--mode", "strict"])
    db = pezd.database
    cluster.psql(db, "SELECT count(pez.create_sequence('n' || i)) FROM generate_series(1, 2000) i")
    cluster.psql(db, "ANALYZE")
    offset = cluster.log_size()
    # Each six times in one session: PL/pgSQL's kept plans are those made from the sixth call on.
    calls = ["SELECT count(*) FROM pez.take_many(ARRAY['n12', 'n1500', 'n7'], ARRAY[1, 2, 1])",
             "SELECT count(*) FROM pez.reserve_many(ARRAY['n1200', 'n33', 'n999'], ARRAY[5, 5, 5])"]
    cluster.psql(db, "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                     " SET auto_explain.log_nested_statements = on; " + "; ".join(calls * 6))
    plans = plans_since(cluster, offset)
    entries = " ".join(plan for _, plan in plans)
    for called in ("FROM pg_sequence s WHERE s.seqrelid = u.seq", "JOIN pg_sequence q ON q.seqrelid = u.seq"):
        assert called in entries, f"no plan of a statement with {called} was logged"
    scans = [(q, plan) for q, plan in plans if "Seq Scan on pg_sequence" in plan or "Seq Scan on sequences" in plan]
    assert not scans, f"{len(scans)} plans read the whole of pg_sequence or pez.sequences, such as: {scans[0][1]}"
