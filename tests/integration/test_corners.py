# SPDX-License-Identifier: Apache-2.0
"""Never twice in every corner: odd sequence shapes, the end of a range without cycle, counts
larger than a statement takes, and a stranger's notices; in the suite's mode (strict, then block)
and, where the two differ, in both."""

import json
import subprocess
import threading

import pytest

import harness
from harness import FORWARD_MAX, assert_one_error_line, metric, next_pipelined, wait_until

MAX = FORWARD_MAX


def create(pezd, *args):
    r = pezd.pez("admin", "create", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def take(pezd, name, count):
    r = pezd.get(f"/v2/{name}?count={count}")
    assert r.status == 200, r
    return r.json()


# 1. An increment that leaves the range at every step ([1, 1, 1]) is refused as a usage error.
def test_an_increment_as_large_as_the_range_is_refused(pezd):
    for args in (["huge", "--increment", str(MAX)], ["small", "--max", "5", "--increment", "5"],
                 ["down", "--min", "10", "--max", "20", "--increment", "11", "--descending"]):
        assert_one_error_line(pezd.pez("admin", "create", *args), 64, "increment")
    r = pezd.lines().ask('CREATE {"name": "huge", "increment": 9223372036854775807}')
    assert r.startswith("ERR bad-request ") and "increment" in r, r
    # The largest allowed step gives two numbers a pass, never the same twice in one answer.
    create(pezd, "two", "--max", "5", "--increment", "4")
    assert take(pezd, "two", 2) == [1, 5]
    assert pezd.get("/v2/two?count=3").status == 400


# 2. Large increments at the ends of the range, both directions: no 500, every number on its
# step, wraps where the range ends.
@pytest.mark.strict_only  # runs both modes itself
@pytest.mark.parametrize("mode", ["strict", "block"])
def test_large_increments_at_the_ends_of_the_range(start_pezd, mode):
    pezd = start_pezd(["--mode", mode])
    half = 2 ** 62
    create(pezd, "up", "--increment", str(half))
    assert [take(pezd, "up", 1)[0] for _ in range(5)] == [1, half + 1, 1, half + 1, 1]
    create(pezd, "down", "--increment", str(half), "--descending")
    assert [take(pezd, "down", 1)[0] for _ in range(5)] == [MAX, MAX - half, MAX, MAX - half, MAX]
    create(pezd, "top", "--min", str(MAX - 20), "--increment", "7")
    assert take(pezd, "top", 3) == [MAX - 20, MAX - 13, MAX - 6]
    assert take(pezd, "top", 3) == [MAX - 20, MAX - 13, MAX - 6]
    create(pezd, "third", "--increment", str(MAX // 3), "--no-cycle")
    third = MAX // 3  # 1 + 3 * third is MAX: four numbers, then no more
    assert take(pezd, "third", 3) == [1, 1 + third, 1 + 2 * third]
    assert take(pezd, "third", 1) == [MAX]
    r = pezd.get("/v1/third")
    assert r.status == 409, r


# 3. The end of a range without cycle: a request for more than is left takes nothing, smaller
# ones get the rest; the same on the socket and for pez.
@pytest.mark.strict_only  # runs both modes itself
@pytest.mark.parametrize("mode", ["strict", "block"])
def test_the_last_numbers_of_a_sequence_without_cycle_are_not_burned(start_pezd, mode):
    pezd = start_pezd(["--mode", mode])
    create(pezd, "five", "--max", "5", "--no-cycle")
    assert take(pezd, "five", 3) == [1, 2, 3]
    r = pezd.get("/v2/five?count=3")
    assert r.status == 409 and "fewer than 3" in r.json()["error"], r
    assert pezd.lines().ask("NEXT five 3").startswith("ERR exhausted ")
    assert_one_error_line(pezd.pez("next", "five", "-n", "3"), 1, "fewer than 3")
    assert take(pezd, "five", 2) == [4, 5]
    r = pezd.get("/v1/five")
    assert r.status == 409 and "last number" in r.json()["error"], r


@pytest.mark.strict_only  # runs both modes itself
@pytest.mark.parametrize("mode", ["strict", "block"])
def test_concurrent_small_requests_get_every_last_number(start_pezd, mode):
    pezd = start_pezd(["--mode", mode])
    create(pezd, "twenty", "--max", "20", "--no-cycle")
    got, refused, others = [], [], []

    def client():
        for _ in range(3):
            r = pezd.get("/v1/twenty")
            (got.append(int(r.body)) if r.status == 200 else
             refused.append(r) if r.status == 409 else others.append(r))

    threads = [threading.Thread(target=client) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert others == []
    assert sorted(got) == list(range(1, 21))  # one daemon holds them all: none is lost
    assert len(refused) == 36 - 20


# 4. Any count up to max_count is served in strict mode, and nothing spins.
@pytest.mark.strict_only
def test_counts_larger_than_one_statement_are_served(start_pezd):
    pezd = start_pezd(["--mode", "strict", "--max-count", "100000"])
    numbers = take(pezd, "forward", 30000)
    assert numbers == list(range(numbers[0], numbers[0] + 30000))
    assert pezd.log_text().count("taking numbers") == 0


# 5. A NOTIFY anyone may send is only a reason to read the catalog: nothing is thrown away, no
# block is fetched for it, and its payload is quoted in the log.
@pytest.mark.strict_only  # block mode, given
def test_a_strangers_notices_burn_nothing(start_pezd, cluster):
    pezd = start_pezd(["--mode", "block", "--block-min", "1000", "--block-max", "1000"])
    first = take(pezd, "forward", 1)[0]
    trips = metric(pezd.get("/metrics").body, "pez_db_round_trips_total")
    stop = threading.Event()

    def stranger():
        while not stop.is_set():
            cluster.psql(pezd.database, "SELECT pg_notify('pez_sequences', 'forward 999999999999') "
                                        "FROM generate_series(1, 50)")

    t = threading.Thread(target=stranger)
    t.start()
    try:
        seen = [take(pezd, "forward", 1)[0] for _ in range(200)]
    finally:
        stop.set()
        t.join()
    cluster.psql(pezd.database, "SELECT pg_notify('pez_sequences', E'evil\\nline')")
    assert seen == list(range(first + 1, first + 201))  # from the same block, nothing burned
    assert metric(pezd.get("/metrics").body, "pez_db_round_trips_total") - trips <= 2
    last = int(cluster.psql(pezd.database, "SELECT last_value FROM pez.forward"))
    assert last <= first + 2000  # at most the block in hand and the next
    wait_until(lambda: '"evil\\nline"' in pezd.log_text(), 10, what="the quoted payload in the log")
    assert "\nline" not in pezd.log_text()


# 7. A sequence made by hand in schema pez (no row in pez.sequences) is served, and keeps its
# reserve when the catalog is read again.
@pytest.mark.strict_only  # block mode, given
def test_a_sequence_made_by_hand_is_served_and_keeps_its_reserve(start_pezd, cluster):
    pezd = start_pezd(["--mode", "block", "--block-min", "1000", "--block-max", "1000"])
    cluster.psql(pezd.database, "CREATE SEQUENCE pez.legacy")
    wait_until(lambda: pezd.get("/v1/legacy").status == 200, 10, what="the legacy sequence")
    before = take(pezd, "legacy", 1)[0]
    for i in range(5):  # each makes pezd read the catalog
        cluster.psql(pezd.database, f"SELECT pg_notify('pez_sequences', 'other{i} 1')")
        assert pezd.get(f"/v1/nothing-{i}").status == 404
    after = take(pezd, "legacy", 1)[0]
    assert after == before + 1
    assert int(cluster.psql(pezd.database, "SELECT last_value FROM pez.legacy")) <= 1000
    listed = {s["name"]: s for s in json.loads(pezd.pez("admin", "list", "--json").stdout)}
    assert listed["legacy"]["generation"] == 0
    # A reset through pez gives it a row, and a generation.
    r = pezd.pez("admin", "reset", "legacy", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["generation"] > 0
    assert take(pezd, "legacy", 1) == [1]


# 9. Requests spread over many sequences share statements (strict mode: sql/013, pez.take_many;
# block mode: sql/012, pez.reserve_many), and one sequence's refusal in such a statement is its
# own: the others' numbers are neither skipped nor asked for again.
SHARED_STATEMENT_LOG = {"strict": "taking numbers of ", "block": "reserving blocks of "}


@pytest.mark.strict_only  # runs both modes itself
@pytest.mark.parametrize("mode", ["strict", "block"])
def test_requests_of_many_sequences_share_statements(start_pezd, cluster, mode):
    pezd = start_pezd(["--mode", mode])
    names = [f"many-{i:03d}" for i in range(300)]
    cluster.psql(pezd.database, "SELECT pez.create_sequence(n) FROM unnest(ARRAY[" +
                 ",".join(f"'{n}'" for n in names) + "]) n")
    wait_until(lambda: pezd.get(f"/v1/{names[-1]}").status == 200, 10, what="the last sequence")
    before = metric(pezd.get("/metrics").body, "pez_db_round_trips_total")
    answers = next_pipelined(pezd, names[:-1])
    assert [a.split()[:2] for a in answers] == [["OK", "1"]] * len(answers), answers[:3]
    after = metric(pezd.get("/metrics").body, "pez_db_round_trips_total")
    # 299 first takes (or first blocks), where one statement each took 299: a statement takes
    # from those waiting when a connection is free, up to 32.
    assert after - before <= len(answers) // 4, after - before
    assert SHARED_STATEMENT_LOG[mode] in pezd.log_text()


@pytest.mark.strict_only  # runs both modes itself
@pytest.mark.parametrize("mode", ["strict", "block"])
def test_a_sequence_run_out_among_others_asked_for_together_fails_alone(start_pezd, cluster, mode):
    pezd = start_pezd(["--mode", mode, "--block-min", "10", "--block-max", "10"])
    names = [f"s-{i:02d}" for i in range(40)]
    for name in names:
        create(pezd, name, *(["--max", "1000", "--no-cycle"] if name == "s-20" else []))
    # Five left behind pezd's back, fewer than the 10 each request (and block mode's block) asks
    # for: s-20's take, or its first reserve, asked for with the others', finds too few.
    cluster.psql(pezd.database, "SELECT setval('pez.\"s-20\"', 995)")
    seen = {name: [] for name in names}
    for _ in range(3):
        answers = next_pipelined(pezd, names, 10)
        for name, answer in zip(names, answers):
            if name == "s-20":
                assert answer.startswith("ERR exhausted "), answer
            else:
                assert answer.startswith("OK "), (name, answer)
                seen[name] += [int(v) for v in answer.split()[1:]]
    log = pezd.log_text()
    assert SHARED_STATEMENT_LOG[mode] in log and "in one statement failed" not in log
    for name, values in seen.items():
        if name != "s-20":
            assert values == list(range(1, 31)), (name, values)
    # s-20's refusals took nothing: its last five numbers are still there.
    assert next_pipelined(pezd, ["s-20"], 5) == ["OK 996 997 998 999 1000"]



# 9b. A take of several sequences is made durable by one logical message (sql/014): one for the
# statement, whatever each sequence answers, where each take wrote one (and took a transaction id
# of its own for it); a take alone writes one too. The WAL's logical decoding shows them.
@pytest.mark.strict_only  # the schema's functions, whatever the mode
def test_a_take_of_several_sequences_writes_one_logical_message(workdir):
    logical = harness.Cluster(settings={"wal_level": "logical"})
    try:
        db = logical.create_database()
        pezd = harness.Pezd(logical, db, workdir, args=["--mode", "strict"]).start()
        for name in ("a", "b", "c"):
            create(pezd, name)
        pezd.stop()
        logical.psql(db, "SELECT pg_create_logical_replication_slot('messages', 'test_decoding')")
        logical.psql(db, "SELECT count(*) FROM pez.take_many(ARRAY['a', 'b', 'c'], ARRAY[2, 1, 3])")
        logical.psql(db, "SELECT count(*) FROM pez.take_many(ARRAY['a', 'gone', 'c'], ARRAY[1, 1, 1])")
        logical.psql(db, "SELECT * FROM pez.take_dated('pez.b', 1)")
        lines = logical.psql(db, "SELECT data FROM pg_logical_slot_get_changes('messages', NULL, NULL)").splitlines()
        messages, counts = 0, []
        for line in lines:
            if line.startswith("BEGIN"):
                messages = 0
            elif line.startswith("message: transactional: 1 prefix: pez,"):
                messages += 1
            elif line.startswith("COMMIT"):
                counts.append(messages)
        assert counts == [1, 1, 1], lines
        taken = logical.psql(db, "SELECT (SELECT last_value FROM pez.a) || ',' || (SELECT last_value FROM pez.b)"
                                 " || ',' || (SELECT last_value FROM pez.c)")
        assert taken == "3,2,4"
    finally:
        logical.destroy()


def takes(cluster, db, names, counts):
    """pez.take_many's rows as psql gives them: the numbers, or the refusal's SQLSTATE."""
    listed = ",".join(f"'{n}'" for n in names)
    return cluster.psql(db, "SELECT coalesce(array_to_string(numbers, ','), error_code) FROM pez.take_many("
                            f"ARRAY[{listed}]::text[], ARRAY{list(counts)}::integer[])").splitlines()


def apart_calls(cluster, db, function):
    """How often function of schema pez, a take or reserve apart in its own subtransaction
    (take_dated_part, reserve_dated), has run in db and answered."""
    calls = cluster.psql(db, "SELECT calls FROM pg_stat_user_functions WHERE schemaname = 'pez'"
                             f" AND funcname = '{function}'")
    return int(calls or 0)


# 9c. A take of several plain sequences (they cycle, have no period, and one pass holds the count)
# runs without a subtransaction each (sql/017); any other shape among them, or a name that is not
# there, and each is taken apart as before: the rows answer the same either way.
@pytest.mark.strict_only  # the schema's functions, whatever the mode
def test_plain_sequences_are_taken_together_and_any_other_shape_apart(start_pezd, cluster):
    pezd = start_pezd(["--mode", "strict"])
    db = pezd.database
    for args in (["a"], ["b", "--descending", "--max", "100"], ["c"],
                 ["small", "--max", "3"], ["no-cycle", "--max", "1000", "--no-cycle"],
                 ["dated", "--format", "{YYYY}-{n}", "--period", "yearly"]):
        create(pezd, *args)
    # Each psql is a session of its own: its function counts are written when it ends.
    cluster.psql(db, f'ALTER DATABASE "{db}" SET track_functions = \'all\'')

    assert takes(cluster, db, ["a", "b", "c"], [2, 1, 3]) == ["1,2", "100", "1,2,3"]
    assert takes(cluster, db, ["a", "b", "small"], [1, 2, 3]) == ["3", "99,98", "1,2,3"]
    assert apart_calls(cluster, db, "take_dated_part") == 0
    # More than one pass of "small", a sequence without cycle, one with a period, a name that is
    # not there: each taken apart, each refusal in its own row, the others' numbers as before.
    assert takes(cluster, db, ["a", "small"], [1, 4]) == ["4", "22023"]
    assert takes(cluster, db, ["a", "no-cycle"], [1, 2]) == ["5", "1,2"]
    assert takes(cluster, db, ["a", "dated"], [1, 1]) == ["6", "1"]
    assert takes(cluster, db, ["a", "gone"], [1, 1]) == ["7", "42P01"]
    assert takes(cluster, db, ["a", "c"], [0, 1]) == ["22023", "4"]
    apart = apart_calls(cluster, db, "take_dated_part")
    assert apart >= 7, apart  # those that answered numbers, at least
    assert takes(cluster, db, ["a", "c"], [1, 1]) == ["8", "5"]
    assert apart_calls(cluster, db, "take_dated_part") == apart


def while_a_drop_waits(cluster, db, name, ask):
    """ask()'s answer, asked while pez.drop_sequence(name) holds the sequence's lock in an open
    transaction, and once ask waits for that lock, the drop committed."""
    oid = cluster.psql(db, f"SELECT 'pez.{name}'::regclass::oid")
    dropper = subprocess.Popen(cluster.psql_command(db), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    answers = []
    asker = threading.Thread(target=lambda: answers.extend(ask()))
    try:
        dropper.stdin.write(f"BEGIN;\nSELECT pez.drop_sequence('{name}');\n")
        dropper.stdin.flush()

        def locks(granted):  # on pez.lock_key('pez.NAME'): (7365978 << 32) | its oid
            return int(cluster.psql(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                        f" AND classid = 7365978 AND objid = {oid} AND granted = {granted}"))
        wait_until(lambda: locks("true") == 1, 10, what="the drop's lock")
        asker.start()
        wait_until(lambda: locks("false") == 1, 10, what="the statement waiting for the drop")
        dropper.stdin.write("COMMIT;\n")
        dropper.stdin.close()
        assert dropper.wait(timeout=30) == 0, dropper.stderr.read()
        asker.join(timeout=30)
    finally:
        if dropper.poll() is None:
            dropper.kill()
        dropper.wait()
        if asker.is_alive():
            asker.join(timeout=30)
    return answers


# 9d. A take of plain sequences that waited for a drop of one of them (the drop holds its lock):
# the dropped one is refused, the others are served, and nothing was taken twice or burned.
@pytest.mark.strict_only  # the schema's functions, whatever the mode
def test_a_take_that_waited_for_a_drop_refuses_the_dropped_sequence_alone(start_pezd, cluster):
    pezd = start_pezd(["--mode", "strict"])
    db = pezd.database
    for name in ("a", "b", "c"):
        create(pezd, name)
    answers = while_a_drop_waits(cluster, db, "b", lambda: takes(cluster, db, ["a", "b", "c"], [1, 1, 1]))
    assert answers == ["1", "42P01", "1"]
    assert takes(cluster, db, ["a", "c"], [1, 1]) == ["2", "2"]


def reserves(cluster, db, names, counts):
    """pez.reserve_many's rows as psql gives them: FIRST-LAST, or the refusal's SQLSTATE."""
    listed = ",".join(f"'{n}'" for n in names)
    return cluster.psql(db, "SELECT coalesce(first_value || '-' || last_value, error_code) FROM pez.reserve_many("
                            f"ARRAY[{listed}]::text[], ARRAY{list(counts)}::bigint[])").splitlines()


# 9e. Blocks of several plain sequences (they cycle, have no period, CACHE 1) are reserved without
# a subtransaction each (sql/018); any other shape among them, or a name that is not there, and
# each is reserved apart as before: the rows answer the same either way, and each block starts
# where the one before it ended, past the end of the range at its other end.
@pytest.mark.strict_only  # the schema's functions; strict mode, so that pezd reserves nothing itself
def test_plain_sequences_are_reserved_together_and_any_other_shape_apart(start_pezd, cluster):
    pezd = start_pezd(["--mode", "strict"])
    db = pezd.database
    for args in (["a"], ["b", "--descending", "--max", "100"], ["small", "--max", "3"], ["cached"],
                 ["no-cycle", "--max", "1000", "--no-cycle"],
                 ["dated", "--format", "{YYYY}-{n}", "--period", "yearly"]):
        create(pezd, *args)
    cluster.psql(db, "ALTER SEQUENCE pez.cached CACHE 5")
    # Each psql is a session of its own: its function counts are written when it ends.
    cluster.psql(db, f'ALTER DATABASE "{db}" SET track_functions = \'all\'')

    assert reserves(cluster, db, ["a", "b", "small"], [10, 5, 2]) == ["1-10", "100-96", "1-2"]
    assert reserves(cluster, db, ["a", "b", "small"], [1, 200, 5]) == ["11-11", "95-1", "3-3"]
    assert reserves(cluster, db, ["b", "small"], [2, 2]) == ["100-99", "1-2"]
    assert apart_calls(cluster, db, "reserve_dated") == 0
    # A sequence without cycle, one with a period, one that keeps numbers in a session (CACHE 5),
    # a name that is not there, a count of 0: each reserved apart, each refusal in its own row,
    # the others' blocks as before.
    assert reserves(cluster, db, ["a", "no-cycle"], [1, 2]) == ["12-12", "1-2"]
    assert reserves(cluster, db, ["a", "dated"], [1, 1]) == ["13-13", "1-1"]
    assert reserves(cluster, db, ["a", "cached"], [1, 3]) == ["14-14", "1-3"]
    assert reserves(cluster, db, ["a", "gone"], [1, 1]) == ["15-15", "42P01"]
    assert reserves(cluster, db, ["a", "small"], [0, 1]) == ["22023", "3-3"]
    apart = apart_calls(cluster, db, "reserve_dated")
    assert apart >= 8, apart  # those that answered blocks, at least
    assert reserves(cluster, db, ["a", "small"], [1, 1]) == ["16-16", "1-1"]
    assert apart_calls(cluster, db, "reserve_dated") == apart


# 9f. A reserve of plain sequences that waited for a drop of one of them (the drop holds its
# lock): the dropped one is refused, the others get their blocks, and nothing was given twice.
@pytest.mark.strict_only  # the schema's functions; strict mode, so that pezd reserves nothing itself
def test_a_reserve_that_waited_for_a_drop_refuses_the_dropped_sequence_alone(start_pezd, cluster):
    pezd = start_pezd(["--mode", "strict"])
    db = pezd.database
    for name in ("a", "b", "c"):
        create(pezd, name)
    answers = while_a_drop_waits(cluster, db, "b", lambda: reserves(cluster, db, ["a", "b", "c"], [5, 5, 5]))
    assert answers == ["1-5", "42P01", "1-5"]
    assert reserves(cluster, db, ["a", "c"], [1, 1]) == ["6-6", "6-6"]


# 9g. A sequence whose lock a transaction left open holds (an operator's ALTER SEQUENCE), among
# others asked for together: the statement that waits for it takes longer than request_timeout
# once, and from then on each of its sequences goes alone until its own statement succeeds. So
# the others are served while the lock is held, the one held up is answered 503 by itself, it is
# served again once the lock is gone, and no number was given twice.
@pytest.mark.strict_only  # runs both modes itself
@pytest.mark.parametrize("mode", ["strict", "block"])
def test_a_sequence_locked_among_others_asked_for_together_holds_them_up_once(start_pezd, cluster, mode):
    pezd = start_pezd(["--mode", mode, "--request-timeout", "1s", "--log-level", "debug"])
    # With both connections busy with the first two, the last three wait and share a statement.
    names = ["a", "b", "c", "d", "held"]
    for name in names:
        create(pezd, name)
    given = {name: [] for name in names}

    def ask_each():
        answers = dict(zip(names, next_pipelined(pezd, names)))
        for name, answer in answers.items():
            if answer.startswith("OK "):
                given[name].append(int(answer.split()[1]))
            else:
                assert answer.startswith("ERR unavailable "), answer
        return answers

    log_from = cluster.log_size()
    with cluster.transaction_left_open(pezd.database, "ALTER SEQUENCE pez.held CACHE 1;", locks="pez.held"):
        first = ask_each()
        assert first["held"].startswith("ERR unavailable the database did not answer within 1s (request_timeout)"), \
            first

        # The statement given up was cancelled (through PgBouncer too), not left waiting for the lock.
        wait_until(lambda: "canceling statement due to user request" in cluster.log_since(log_from), 10,
                   what="PostgreSQL to log the given-up statement as cancelled")
        for _ in range(3):
            again = ask_each()
            assert [again[name].split()[0] for name in names] == ["OK"] * 4 + ["ERR"], again
    wait_until(lambda: ask_each()["held"].startswith("OK "), 15, what="held to be served once its lock is gone")
    last = {name: given[name][-1] for name in names}
    assert ask_each() == {name: f"OK {last[name] + 1}" for name in names}
    for name, numbers in given.items():
        assert numbers == sorted(set(numbers)), (name, numbers)


# 10. A function of schema pez changed by hand to answer otherwise: no number is handed out, the
# answer and the log say what happened and where to look, and numbers flow again once the
# function is as its schema file defines it.
@pytest.mark.strict_only  # the take's answer is read the same way in block mode's reserve
def test_a_function_changed_by_hand_answers_where_to_look(start_pezd, cluster):
    pezd = start_pezd(["--mode", "strict"])
    assert take(pezd, "forward", 2) == [1, 2]
    original = cluster.psql(pezd.database, "SELECT pg_get_functiondef('pez.take(regclass, integer)'::regprocedure)")
    cluster.psql(pezd.database, "CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint "
                                "LANGUAGE sql AS $$ SELECT 7::bigint $$")
    r = pezd.get("/v2/forward?count=3")
    assert r.status == 500, r
    message = r.json()["error"]
    assert message.startswith("the database answered pez.take with 1 numbers for 3"), message
    assert "/usr/share/pez/sql" in message and "re-create any that was changed" in message, message
    wait_until(lambda: "pez.take with 1 numbers for 3" in pezd.log_text(), 10, what="the error in the log")
    cluster.psql(pezd.database, original)
    # pezd waits a little before it asks again after such an answer.
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 10, what="numbers again")
    assert 7 not in take(pezd, "forward", 3)


@pytest.mark.strict_only  # the same text in block mode's reserve
def test_a_message_of_a_megabyte_is_cut_to_a_line(start_pezd, cluster):
    # A function changed by hand may raise a message of any length: the answer, pez's error and
    # the log line keep its start, cut at k_line_limit (4096 bytes) and marked so.
    pezd = start_pezd(["--mode", "strict"])
    cluster.psql(pezd.database, "CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint "
                                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', "
                                "MESSAGE = 'long ' || repeat('x', 1000000); END $$")
    r = pezd.get("/v1/forward")
    message = r.json()["error"]
    assert r.status == 400 and message == "long " + "x" * (4096 - 5) + "...", (r.status, len(message))
    said = pezd.pez("forward")
    assert_one_error_line(said, 64, "long xxx")
    assert len(said.stderr) < 4200, len(said.stderr)
    wait_until(lambda: "long xxx" in pezd.log_text(), 10, what="the error in pezd's log")
    assert max(len(line) for line in pezd.log_text().splitlines()) < 4400
