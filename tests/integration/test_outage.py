# SPDX-License-Identifier: Apache-2.0
"""The database goes away and comes back (DESIGN §1, §2): bounded 503s, serving again on its own,
and no number handed out before the outage is handed out after it."""

import os
import re
import signal
import time

import pytest

from harness import assert_one_error_line, wait_until


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


# What a request whose statement waited past a request_timeout of 1s is told (test_block.py too).
WAITED = re.compile(r"the database did not answer within 1s \(request_timeout\): it is overloaded or unreachable, or a "
                    r"transaction holds a lock pezd waits for; try again later")


@pytest.mark.strict_only
def test_a_take_that_waits_past_request_timeout_names_the_setting(start_pezd, cluster):
    # The database is up, but a transaction holds the sequence's lock: the answer says how long
    # pezd waited, which setting bounds that wait, and what may hold a statement up; it does not
    # claim the database is down.
    pezd = start_pezd(["--request-timeout", "1s"])
    pezd.numbers("forward", 3)
    # An operator's ALTER SEQUENCE in a transaction left open (rolled back: nothing changes).
    with cluster.transaction_left_open(pezd.database, "ALTER SEQUENCE pez.forward CACHE 1;", locks="pez.forward"):
        answer = pezd.lines().ask("NEXT forward")
        assert answer.startswith("ERR unavailable "), answer
        assert WAITED.search(answer), answer
        assert "unavailable:" not in answer, answer
        result = pezd.pez("forward")
        assert result.returncode == 75, result
        assert WAITED.search(result.stderr), result.stderr
        r = pezd.get("/v1/forward")
        assert r.status == 503, r
        assert r.headers["retry-after"]
        assert WAITED.search(r.json()["error"]), r.json()
    assert re.search(r"did not answer within 1s \(request_timeout\)", pezd.log_text()), pezd.log_text()
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 15, what="pezd to serve again")


def test_terminated_backends_are_replaced(pezd, cluster):
    first = pezd.numbers("forward", 3)
    cluster.psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pezd'")
    # The next request may need a fresh connection; it is not an error for the client.
    wait_until(lambda: pezd.get("/v1/forward").status == 200, 10, what="pezd to reconnect")
    later = pezd.numbers("forward", 3)
    assert min(later) > max(first)
    wait_until(lambda: re.search(r"lost (a|the) database connection", pezd.log_text()), 10,
               what="pezd to notice the lost connections")


@pytest.mark.empty_database  # a new installation: the schema is made once the database is up
def test_pezd_starts_before_the_database(start_pezd, cluster):
    cluster.stop()
    pezd = start_pezd(["--request-timeout", "1s"], wait_ready=False)
    r = pezd.get("/v1/forward")
    assert r.status == 503
    assert pezd.get("/readyz").status == 503
    cluster.start()
    pezd.wait_ready()
    assert pezd.get("/v1/forward").body == "1\n"


@pytest.mark.parametrize("setting,what", [
    ({"database": "no_such_database"}, "the database it names does not exist"),
    ({"user": "no_such_role"}, "the role it names does not exist"),
])
def test_wrong_database_settings_are_not_temporary(start_pezd, cluster, setting, what):
    # A script that retries on 75 would loop forever: wrong settings are EX_CONFIG (78).
    pezd = start_pezd(["--request-timeout", "1s"], wait_ready=False, **setting)
    wait_until(lambda: "database unavailable" in pezd.log_text(), 10, what="the first failed attempt")
    r = pezd.pez("forward")
    assert_one_error_line(r, 78, "pezd's database settings are wrong: " + what)
    assert "retrying will not help" in r.stderr
    assert pezd.lines().ask("NEXT forward").startswith("ERR misconfigured pezd's database settings are wrong")
    assert pezd.pez("admin", "list").returncode == 78

    # HTTP still says 503, with a short reason and the request id, and none of libpq's text.
    for path in ("/v1/forward", "/readyz"):
        r = pezd.get(path)
        assert r.status == 503 and r.headers["retry-after"], r
        body = r.json()
        assert what in body["error"], body
        assert body["request_id"] == r.headers["x-request-id"], r
        for leak in (cluster.dir, "no_such", "FATAL", "socket"):
            assert leak not in r.body, (leak, r.body)
        # The log has the answer under the same id, and libpq's own text.
        wait_until(lambda: re.search(re.escape(body["request_id"]) + r": 503 ", pezd.log_text()), 5,
                   what="the log line of the request")
    assert re.search(r'database unavailable: connection to server on socket "[^"]*" failed: FATAL: .*no_such',
                     pezd.log_text())


def test_the_database_down_is_temporary_and_says_little_over_http(start_pezd, cluster):
    pezd = start_pezd(["--request-timeout", "1s"])
    cluster.stop("fast")  # a clean stop: no crash recovery to wait for at start
    try:
        assert_one_error_line(pezd.pez("forward"), 75, "the database is unavailable")
        r = pezd.get("/v1/forward")
        assert r.status == 503
        assert r.json()["error"] == "the database is unavailable; try again later"
        assert r.json()["request_id"] == r.headers["x-request-id"]
        r = pezd.get("/readyz")
        assert r.status == 503 and cluster.dir not in r.body, r
    finally:
        cluster.start()


def test_libpq_lines_stay_apart_in_the_log(start_pezd, workdir):
    # Two hosts, each failing with a hint: one line in the log, each host's failure apart.
    hosts = f"{workdir}/none-a,{workdir}/none-b"
    pezd = start_pezd(["--request-timeout", "1s"], env={"PEZ_DATABASE_URL": f"host={hosts} dbname=x"},
                      wait_ready=False)
    wait_until(lambda: "database unavailable" in pezd.log_text(), 10, what="the failed attempt")
    line = next(line for line in pezd.log_text().splitlines() if "database unavailable" in line)
    assert re.search(r'none-a/\.s\.PGSQL\.\d+" failed: No such file or directory \(Is the server running [^)]*\); '
                     r'connection to server on socket "[^"]*none-b', line), line
