# SPDX-License-Identifier: Apache-2.0
"""Failover to a synchronous standby (DESIGN §1): a primary and a streaming standby on this
machine (pg_basebackup, synchronous replication), pezd given both hosts with
target_session_attrs=read-write. The primary dies under load, the standby is promoted, and no
number is handed out twice: every number acknowledged before the failover is in the standby too.
Also what pezd does meanwhile: it will not take numbers from a server in recovery, and serves
again on its own once one of its hosts accepts writes."""

import concurrent.futures
import json
import re
import signal
import threading
import time

import pytest

import harness
from harness import wait_until


@pytest.fixture
def pair():
    """A primary with one database, and a standby of it in synchronous replication."""
    primary = harness.Cluster()
    standby = None
    try:
        database = primary.create_database()
        standby = harness.Cluster(standby_of=primary)
        primary.psql("postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.psql("postgres", "SELECT pg_reload_conf()")
        wait_until(lambda: primary.psql("postgres", "SELECT sync_state FROM pg_stat_replication") == "sync", 20,
                   what="the standby to replicate synchronously")
        yield primary, standby, database
    finally:
        primary.destroy()
        if standby is not None:
            standby.destroy()


def start_pezd(hosts_of, database, mode, workdir, extra=()):
    hosts = ",".join(c.dir for c in hosts_of)
    url = f"host={hosts} dbname={database} user=postgres target_session_attrs=read-write connect_timeout=2"
    args = ["--mode", mode, "--database-url", url, "--request-timeout", "2s", *extra]
    if mode == "block":
        args += ["--block-min", "50", "--block-duration", "1s"]
    return harness.Pezd(hosts_of[0], database, workdir, args=args)


def load(pezd, stop, got, problems):
    """Numbers over keep-alive HTTP until stop: each answer is numbers (into got) or 503."""
    def answered(r, body, start, end):
        if r.status == 200:
            got.extend(json.loads(body))
        elif r.status != 503:
            problems.append(f"{pezd.name}: {r.status} {body!r}")

    harness.keep_alive_load(pezd.address, stop, answered, lambda e: problems.append(f"{pezd.name}: {e!r}"))


@pytest.mark.parametrize("mode", ["strict", "block"])
def test_promoting_a_synchronous_standby_under_load_hands_out_no_number_twice(pair, workdir, mode):
    primary, standby, database = pair
    daemons = [start_pezd([primary, standby], database, mode, workdir) for _ in range(2)]
    with harness.logs_on_failure(*daemons):
        for d in daemons:
            d.start()
        stop = threading.Event()
        got = [[] for _ in range(4)]
        problems = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            jobs = [pool.submit(load, daemons[i % 2], stop, got[i], problems) for i in range(4)]
            time.sleep(2)
            before = sum(len(g) for g in got)
            primary.crash()  # the machine of the primary is gone
            crashed_at = time.monotonic()
            time.sleep(1)
            standby.promote()
            # Each daemon finds the new primary among its hosts on its own.
            for d in daemons:
                wait_until(lambda: d.get("/v1/forward", timeout=5).status == 200 and d.get("/readyz").status == 200,
                           20, what=f"{d.name} to serve from the promoted standby")
            recovered = time.monotonic() - crashed_at
            time.sleep(2)
            stop.set()
            for job in jobs:
                job.result()
        numbers = [n for g in got for n in g]
        assert before > 100 and len(numbers) > before, (before, len(numbers))
        assert len(numbers) == len(set(numbers)), "a number was handed out twice across the failover"
        # Every number acknowledged by the old primary was replicated before it was answered.
        last = int(standby.psql(database, "SELECT last_value FROM pez.forward"))
        assert max(numbers) <= last
        # pezd itself never failed a client: every answer was numbers or 503.
        assert not problems, problems[:10]
        print(f"failover ({mode}): {len(numbers)} numbers acknowledged, none twice; serving again "
              f"{recovered:.1f}s after the primary died (1s of it before the promotion)")
        for d in daemons:
            assert d.stop() == 0


@pytest.mark.parametrize("mode", ["strict", "block"])
def test_no_number_is_answered_while_the_synchronous_standby_is_away(pair, workdir, mode):
    # Every exchange that takes numbers must wait until the standby has it: a number answered
    # before would come again if the standby were promoted then.
    primary, standby, database = pair
    pezd = start_pezd([primary, standby], database, mode, workdir, extra=["--request-timeout", "1s"])
    with harness.logs_on_failure(pezd):
        pezd.start()
        # A sequence of its own, so that block mode has nothing of it reserved.
        r = pezd.pez("admin", "create", "away")
        assert r.returncode == 0, r.stderr
        before = []
        if mode == "strict":
            # Later takes use values these logged ahead, writing no record of the sequence.
            before = pezd.numbers("away", 5)
        frozen = standby.pids()
        harness.signal_all(frozen, signal.SIGSTOP)
        try:
            for path in ("/v2/away?count=3", "/v1/away"):
                r = pezd.get(path)
                assert r.status == 503, f"{path} answered while the synchronous standby was away: {r}"
            assert pezd.pez("next", "away").returncode == 75
        finally:
            harness.signal_all(frozen, signal.SIGCONT)
        wait_until(lambda: pezd.get("/v1/away", timeout=5).status == 200, 20, what=f"{pezd.name} to serve again")
        after = pezd.numbers("away", 5)
        assert min(after) > max(before, default=0)
        assert pezd.stop() == 0


def test_status_and_log_say_that_commits_wait_while_no_synchronous_standby_streams(pair, workdir):
    # synchronous_standby_names names a standby that is gone (stopped here; Patroni's strict mode
    # sets '*' without one, and Patroni 3.0 can keep naming one that left): a failover would lose
    # nothing, and every commit that takes numbers waits until a standby streams again.
    primary, standby, database = pair
    pezd = start_pezd([primary, standby], database, "strict", workdir)
    with harness.logs_on_failure(pezd):
        pezd.start()

        def failover():
            return json.loads(pezd.pez("status", "--json").stdout)["database"]["failover"]

        def stalled():
            return harness.metric(pezd.get("/metrics").body, "pez_database_commits_stalled")

        assert "none streams" not in failover(), failover()
        assert stalled() == 0
        standby.stop()
        try:
            wait_until(lambda: "but none streams now: every commit that takes numbers waits until one does"
                       in failover(), 10, what=lambda: f"pez status to say that commits wait: {failover()!r}")
            assert failover().startswith("safe: "), failover()
            assert json.loads(pezd.pez("status", "--json").stdout)["database"]["failover_safe"] is True
            assert stalled() == 1
            assert re.search(r"warning: failover: the primary at \S+: safe: .*, but none streams now",
                             pezd.log_text()), pezd.log_text()
            assert pezd.get("/v1/forward").status == 503
        finally:
            standby.start()
        wait_until(lambda: "none streams" not in failover(), 30, what="a synchronous standby to stream again")
        assert stalled() == 0
        assert re.search(r"info: failover: the primary at \S+: safe: commits wait for a synchronous standby "
                         r"\([^)]*1 synchronous\)$", pezd.log_text(), re.M), pezd.log_text()
        wait_until(lambda: pezd.get("/v1/forward", timeout=5).status == 200, 20, what="pezd to serve again")
        assert pezd.stop() == 0


def test_a_server_in_recovery_is_not_used_until_it_is_promoted(pair, workdir):
    primary, standby, database = pair
    # Numbers from the primary first, then pezd pointed at the standby alone.
    early = start_pezd([primary], database, "strict", workdir).start()
    taken = early.numbers("forward", 20)
    assert early.stop() == 0
    pezd = start_pezd([standby], database, "strict", workdir, extra=["--db-connections", "1"])
    pezd.args = [a.replace(" target_session_attrs=read-write", "") for a in pezd.args]
    with harness.logs_on_failure(pezd):
        pezd.start(wait_ready=False)
        wait_until(lambda: "is in recovery" in pezd.log_text(), 15, what="pezd to refuse the standby")
        assert "target_session_attrs=read-write" in pezd.log_text()  # the log says what to do
        r = pezd.get("/v1/forward")
        # The answer says it in a few words; the log, under the request's id, says why.
        assert r.status == 503 and r.json()["error"] == "the database is unavailable; try again later", r
        request_id = r.json()["request_id"]
        wait_until(lambda: any(request_id in line and "is in recovery" in line for line in pezd.log_text().splitlines()),
                   5, what="the request's log line")
        assert pezd.get("/readyz").status == 503
        primary.stop()
        standby.promote()
        pezd.wait_ready()
        after = pezd.numbers("forward", 20)
        assert min(after) > max(taken)
        assert pezd.stop() == 0
