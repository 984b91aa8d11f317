# SPDX-License-Identifier: Apache-2.0
"""Never twice (DESIGN §1): two daemons on one database, concurrent clients over HTTP, the socket
and the CLI; linearizable order across daemons in strict mode; wrap-around of both sequences."""

import concurrent.futures
import http.client
import threading

import pytest

from harness import FORWARD_MAX, LineClient


def http_worker(address, name, rounds, count):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    got = []
    for i in range(rounds):
        if count == 1 and i % 2:
            conn.request("GET", f"/v1/{name}")
            r = conn.getresponse()
            assert r.status == 200
            got.append(int(r.read()))
        else:
            conn.request("GET", f"/v2/{name}?count={count}")
            r = conn.getresponse()
            assert r.status == 200
            import json
            numbers = json.loads(r.read())
            assert len(numbers) == count
            got.extend(numbers)
    conn.close()
    return got


def socket_worker(path, name, rounds, count):
    c = LineClient(path, timeout=30)
    got = []
    # Pipelined in groups of 10 lines.
    for _ in range(rounds // 10):
        c.send("".join(f"NEXT {name} {count}\n" for _ in range(10)))
        for _ in range(10):
            answer = c.read_line()
            assert answer.startswith("OK "), answer
            numbers = [int(x) for x in answer[3:].split()]
            assert len(numbers) == count
            got.extend(numbers)
    c.close()
    return got


def test_two_daemons_with_concurrent_clients_never_hand_out_a_number_twice(start_pezd):
    a = start_pezd()
    b = start_pezd()
    jobs = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        for d in (a, b):
            for name in ("forward", "reverse"):
                jobs.append(pool.submit(http_worker, d.address, name, 150, 1))
                jobs.append(pool.submit(http_worker, d.address, name, 60, 7))
                jobs.append(pool.submit(socket_worker, d.socket, name, 150, 1))
                jobs.append(pool.submit(socket_worker, d.socket, name, 60, 5))
        cli = []
        for d in (a, b):
            for _ in range(10):
                cli.append(pool.submit(d.pez, "forward", "-n", "3"))
        results = [j.result() for j in jobs]
        cli_results = [j.result() for j in cli]
    forward, reverse = [], []
    for i, numbers in enumerate(results):
        (forward if (i // 4) % 2 == 0 else reverse).extend(numbers)
    for r in cli_results:
        assert r.returncode == 0, r.stderr
        forward.extend(int(x) for x in r.stdout.split())
    assert len(forward) == len(set(forward)), "a forward number was handed out twice"
    assert len(reverse) == len(set(reverse)), "a reverse number was handed out twice"
    assert len(forward) > 2000 and len(reverse) > 2000
    assert all(1 <= n <= FORWARD_MAX for n in forward + reverse)


@pytest.mark.strict_only
def test_requests_alternating_between_daemons_ascend(start_pezd):
    a = start_pezd()
    b = start_pezd()
    seen = []
    for i in range(60):
        d = (a, b)[i % 2]
        if i % 3 == 0:
            seen.extend(d.numbers("forward", 3))
        elif i % 3 == 1:
            seen.append(int(d.get("/v1/forward").body))
        else:
            seen.extend(int(x) for x in d.lines().ask("NEXT forward 2")[3:].split())
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    down = []
    for i in range(20):
        down.extend((a, b)[i % 2].numbers("reverse", 2))
    assert down == sorted(down, reverse=True) and len(set(down)) == len(down)


def test_concurrent_requests_on_one_daemon_share_statements_and_stay_unique(pezd):
    # Many waiting requests are served together; each still gets its own numbers.
    barrier = threading.Barrier(32)

    def one():
        barrier.wait()
        return http_worker(pezd.address, "forward", 30, 3)

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda _: one(), range(32)))
    every = [n for r in results for n in r]
    assert len(every) == len(set(every)) == 32 * 30 * 3
    # Every answer is in the sequence's order.
    for r in results:
        for i in range(0, len(r), 3):
            assert r[i] < r[i + 1] < r[i + 2]


def test_forward_wraps_to_1(pezd, cluster):
    cluster.psql(pezd.database, f"SELECT setval('pez.forward', {FORWARD_MAX - 3})")
    assert pezd.numbers("forward", 2) == [FORWARD_MAX - 2, FORWARD_MAX - 1]
    assert pezd.numbers("forward", 3) == [FORWARD_MAX, 1, 2]
    assert pezd.get("/v1/forward").body == "3\n"


def test_reverse_wraps_to_the_top(pezd, cluster):
    cluster.psql(pezd.database, "SELECT setval('pez.reverse', 3)")
    assert pezd.numbers("reverse", 2) == [2, 1]
    assert pezd.numbers("reverse", 2) == [FORWARD_MAX, FORWARD_MAX - 1]
    assert pezd.pez("reverse").stdout == f"{FORWARD_MAX - 2}\n"
