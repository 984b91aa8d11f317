"""The database goes away and comes back (DESIGN §1, §2): bounded 503s, serving again on its own,
and no number handed out before the outage is handed out after it."""

import os
import re
import signal
import time

import pytest

from harness import wait_until


@pytest.mark.strict_only
def test_database_stopped_then_started(start_pezd, cluster):
    pezd = start_pezd(["--request-timeout", "2s"])
    before = pezd.numbers("forward", 50) + [int(pezd.get("/v1/forward").body)]

    cluster.stop()
    started = time.monotonic()
    r = pezd.get("/v1/forward")
    took = time.monotonic() - started
    assert r.status == 503, r
    assert r.headers["retry-after"]
    assert "database" in r.json()["error"]
    assert took < 2 + 3, took  # within request_timeout, with slack for a loaded machine
    r = pezd.get("/v2/forward?count=5")
    assert r.status == 503
    assert pezd.get("/readyz").status == 503
    assert pezd.get("/healthz").status == 200
    answer = pezd.lines().ask("NEXT forward")
    assert answer.startswith("ERR unavailable "), answer
    assert pezd.pez("forward").returncode == 75

    cluster.start()
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 15, what="pezd to serve again")
    after = pezd.numbers("forward", 50)
    assert not set(before) & set(after)
    assert min(after) > max(before)
    assert pezd.get("/readyz").status == 200


@pytest.mark.strict_only
def test_requests_waiting_when_the_database_dies_get_503_within_the_bound(start_pezd, cluster):
    pezd = start_pezd(["--request-timeout", "2s"])
    pezd.numbers("forward", 3)
    # A frozen server: connections stay open, nothing answers.
    pid = cluster.postmaster_pid()
    backends = [int(p) for p in cluster.psql("postgres", "SELECT pid FROM pg_stat_activity WHERE "
                                                         "application_name = 'pezd'").split()]
    try:
        for p in [pid] + backends:
            os.kill(p, signal.SIGSTOP)
        started = time.monotonic()
        r = pezd.get("/v1/forward")
        took = time.monotonic() - started
        assert r.status == 503, r
        assert took < 2 + 3, took
    finally:
        for p in [pid] + backends:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 20, what="pezd to serve again")


def test_terminated_backends_are_replaced(pezd, cluster):
    first = pezd.numbers("forward", 3)
    cluster.psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pezd'")
    # The next request may need a fresh connection; it is not an error for the client.
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 10, what="pezd to reconnect")
    later = pezd.numbers("forward", 3)
    assert min(later) > max(first)
    wait_until(lambda: re.search(r"lost (a|the) database connection", pezd.log_text()), 10,
               what="pezd to notice the lost connections")


def test_pezd_starts_before_the_database(start_pezd, cluster):
    cluster.stop()
    pezd = start_pezd(["--request-timeout", "1s"], wait_ready=False)
    r = pezd.get("/v1/forward")
    assert r.status == 503
    assert pezd.get("/readyz").status == 503
    cluster.start()
    pezd.wait_ready()
    assert pezd.get("/v1/forward").body == "1\n"
