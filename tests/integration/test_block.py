# SPDX-License-Identifier: Apache-2.0
"""Block mode (DESIGN §1): numbers served from blocks reserved ahead, through database outages,
without ever handing a number out twice; and the reservation function itself."""

import concurrent.futures
import re
import socket

from harness import FORWARD_MAX, read_responses, wait_until


def metric(pezd, name, labels):
    text = pezd.get("/metrics").body
    match = re.search(re.escape(f"{name}{{{labels}}}") + r" ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_block_mode_serves_from_memory(start_pezd):
    pezd = start_pezd(["--mode", "block"])
    assert pezd.numbers("forward", 5) == [1, 2, 3, 4, 5]
    trips = lambda: float(re.search(r"^pez_db_round_trips_total (\d+)$", pezd.get("/metrics").body, re.M).group(1))
    first = trips()
    for _ in range(20):
        assert pezd.get("/v1/forward").status == 200
    assert trips() - first <= 1  # at most one more block for 20 numbers
    assert metric(pezd, "pez_reserved_numbers", 'sequence="forward"') > 0
    assert '"mode": "block"' in pezd.lines().ask("STATUS")


def test_serves_through_an_outage_and_never_reissues(start_pezd, cluster):
    pezd = start_pezd(["--mode", "block", "--block-min", "200", "--request-timeout", "1s"])
    before = pezd.numbers("forward", 10)
    reserved = int(metric(pezd, "pez_reserved_numbers", 'sequence="forward"'))
    assert reserved > 0
    cluster.stop()
    during = []
    while True:
        r = pezd.get("/v2/forward?count=10")
        if r.status != 200:
            assert r.status == 503, r
            assert r.headers["retry-after"]
            break
        during.extend(r.json())
        assert len(during) <= reserved + 200, "served more than it had reserved"
    assert len(during) >= min(reserved - 10, 100)
    assert pezd.lines().ask("NEXT forward").startswith("ERR unavailable ")
    cluster.start()
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 15, what="pezd to serve again")
    after = pezd.numbers("forward", 50)
    every = before + during + after
    assert len(every) == len(set(every))
    assert every == sorted(every)  # one daemon: its own order holds


def test_a_restarted_daemon_never_reissues(start_pezd):
    pezd = start_pezd(["--mode", "block"])
    first = pezd.numbers("forward", 30)
    pezd.kill9()
    pezd.restart()
    second = pezd.numbers("forward", 30)
    assert min(second) > max(first)  # the unused rest of the block is a gap


def test_wrap_inside_a_block(start_pezd, cluster):
    pezd = start_pezd(["--mode", "block", "--block-min", "1000"])
    cluster.psql(pezd.database, f"SELECT setval('pez.forward', {FORWARD_MAX - 5})")
    cluster.psql(pezd.database, "SELECT setval('pez.reverse', 4)")
    assert pezd.numbers("forward", 8) == [FORWARD_MAX - 4, FORWARD_MAX - 3, FORWARD_MAX - 2, FORWARD_MAX - 1,
                                          FORWARD_MAX, 1, 2, 3]
    assert pezd.numbers("reverse", 5) == [3, 2, 1, FORWARD_MAX, FORWARD_MAX - 1]


def test_strict_and_block_daemons_share_a_sequence_without_duplicates(start_pezd):
    daemons = [start_pezd(["--mode", "block", "--block-min", "50"]), start_pezd(["--mode", "block"]),
               start_pezd(["--mode", "strict"])]

    def take(d):
        got = []
        for i in range(60):
            got.extend(d.numbers("forward", 1 + i % 7))
            got.extend(d.numbers("reverse", 2))
        return got

    with concurrent.futures.ThreadPoolExecutor(max_workers=9) as pool:
        results = list(pool.map(take, daemons * 3))
    every = [n for r in results for n in r]
    assert len(every) == len(set(every))


def test_block_size_follows_the_rate(start_pezd):
    pezd = start_pezd(["--mode", "block", "--block-min", "10", "--block-duration", "10s"])
    assert pezd.get("/v1/forward").status == 200  # the first block: the least, the rate is unknown

    def load(_):
        for _ in range(100):
            pezd.numbers("forward", 100)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(load, range(4)))
    sizes = [int(s) for s in re.findall(r"reserving a block of (\d+) numbers of forward", pezd.log_text())]
    assert sizes[0] == 10
    assert max(sizes) > 1000, sizes  # thousands of numbers a second: blocks of many seconds' worth


def test_a_sequence_without_cycle_runs_out_with_409(start_pezd, cluster, db):
    cluster.psql(db, "CREATE SCHEMA IF NOT EXISTS pez; CREATE SEQUENCE pez.small MAXVALUE 5")
    for mode in ("block", "strict"):
        cluster.psql(db, "SELECT setval('pez.small', 1, false)")
        pezd = start_pezd(["--mode", mode])
        assert pezd.numbers("small", 4) == [1, 2, 3, 4]
        assert pezd.numbers("small", 1) == [5]
        r = pezd.get("/v1/small")
        assert r.status == 409, (mode, r)
        assert "does not cycle" in r.json()["error"]
        r = pezd.pez("next", "small")
        assert r.returncode == 1 and "does not cycle" in r.stderr
        pezd.stop()


def test_reserve_function_by_hand(cluster, db, start_pezd):
    start_pezd()  # creates the schema and functions
    row = cluster.psql(db, "SELECT first_value, last_value, increment FROM pez.reserve('pez.forward', 10)")
    assert row == "1|10|1"
    assert cluster.psql(db, "SELECT first_value, last_value, increment FROM pez.reserve('pez.reverse', 3)") == f"{FORWARD_MAX}|{FORWARD_MAX - 2}|-1"
    assert cluster.psql(db, "SELECT string_agg(n::text, ',') FROM pez.take('pez.forward', 3) AS n") == "11,12,13"
    bad = cluster.psql(db, "SELECT * FROM pez.reserve('pez.forward', 0)", check=False)
    assert bad.returncode != 0 and "must be 1 or more" in bad.stderr


def test_requests_sent_at_once_on_one_connection_get_numbers_in_their_order(start_pezd):
    # Small blocks, so that many requests find the reserve empty and wait for the core thread
    # while the connection's later requests are read, on the other thread too: those must not
    # take from the next block before the earlier ones. Several connections at once keep the
    # core thread busy.
    pezd = start_pezd(["--mode", "block", "--block-min", "10", "--block-max", "10", "--threads", "2"])
    host, port = pezd.address.rsplit(":", 1)
    get = b"GET /v1/forward HTTP/1.1\r\nHost: t\r\n\r\n"

    def one_connection(_):
        out_of_order = []
        with socket.create_connection((host, int(port)), timeout=10) as s:
            for _ in range(20):
                s.sendall(get * 200)
                answers = read_responses(s, 200)
                assert [status for status, _ in answers] == [200] * 200
                numbers = [int(body) for _, body in answers]
                out_of_order += [(a, b) for a, b in zip(numbers, numbers[1:]) if a > b]
        return out_of_order

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        found = [pair for pairs in pool.map(one_connection, range(6)) for pair in pairs]
    assert found == [], f"{len(found)} answers with a smaller number than the one before: {found[:5]}"


def test_a_block_held_up_by_a_lock_is_answered_with_the_reason(start_pezd, cluster, db):
    # An operator's ALTER SEQUENCE on forward in a transaction left open since before pezd
    # started: forward's first block cannot be reserved. Its requests are told why within
    # request_timeout, and reverse is served meanwhile.
    with cluster.transaction_left_open(db, "ALTER SEQUENCE pez.forward CACHE 1;", locks="pez.forward"):
        pezd = start_pezd(["--mode", "block", "--request-timeout", "1s"], database=db)
        r = pezd.get("/v1/forward")
        assert r.status == 503, r
        assert re.search(r"the database did not answer within 1s \(request_timeout\): it is overloaded or "
                         r"unreachable, or a transaction holds a lock pezd waits for; try again later",
                         r.json()["error"]), r.json()
        wait_until(lambda: pezd.get("/v1/reverse").status == 200, 10, what="reverse to be served")
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 15, what="forward to be served")
