# SPDX-License-Identifier: Apache-2.0
"""pezd on a real Patroni cluster (patroni.py: etcd, three Patroni nodes, HAProxy), DESIGN §1:
no number is handed out twice across a switchover, a failover, a lost DCS and a partitioned
leader; pezd knows whether a failover is safe (pez_database_failover_safe, pez status, one
warning in the log) and, with require_synchronous_standby, refuses numbers while it is not.

The run's figures go to PEZ_HA_SUMMARY (JSON) when it is set; tests/ha/summary prints them."""

import json
import os
import re
import signal
import statistics
import threading
import time

import pytest

import figures
import harness
import patroni
from harness import wait_until

REQUEST_TIMEOUT = 2.0
# As in the fault suite: no request may take longer than request_timeout and this much more.
BOUND = REQUEST_TIMEOUT + 3.0
SUMMARY = os.environ.get("PEZ_HA_SUMMARY", "")


@pytest.fixture(scope="module")
def cluster():
    c = patroni.PatroniCluster()
    try:
        c.leader().psql("postgres", "CREATE DATABASE pez")
        yield c
    finally:
        c.destroy()


@pytest.fixture
def daemons(cluster, workdir, request):
    """start(url_kind, mode, extra=()) -> harness.Pezd on the cluster; every one is stopped at the
    end, and the logs are printed when the test failed."""
    started = []

    def start(url_kind, mode, extra=(), wait_ready=True):
        url = cluster.multi_host_url("pez") if url_kind == "multi-host" else cluster.haproxy_url("pez")
        args = ["--mode", mode, "--database-url", url, "--request-timeout", f"{REQUEST_TIMEOUT:g}s",
                "--connect-timeout", "2s", "--threads", "1", *extra]
        if mode == "block":
            args += ["--block-min", "50", "--block-duration", "1s"]
        d = harness.Pezd(patroni.Stand(cluster.haproxy.port), "pez", workdir, args=args)
        d.url_kind = url_kind
        d.mode = mode
        started.append(d)
        return d.start(wait_ready=wait_ready)

    yield start
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
    if failed:
        for d in started:
            print(f"\n----- log of {d.name} ({d.url_kind}, {d.mode}) -----\n{d.log_text()[-20000:]}")
        print(cluster.logs())


def metric_sample(d, name):
    body = d.get("/metrics").body
    match = re.search(rf"^{name} (\S+)$", body, re.M)
    assert match, f"{name} is not in /metrics"
    return float(match.group(1))


def status_fields(d):
    r = d.pez("status")
    lines = r.stdout.splitlines()
    fields = dict(re.match(r"([a-z]+): +(.*)", line).groups() for line in lines[1:])
    return r, lines[0] if lines else "", fields


def test_an_asynchronous_cluster_is_named_unsafe_once_and_safe_again_with_synchronous_mode(cluster, daemons):
    # Patroni's default: asynchronous replication. A failover could lose acknowledged numbers.
    cluster.set_synchronous(False)
    try:
        d = daemons("haproxy", "strict")
        assert d.numbers("forward", 3)
        wait_until(lambda: "asynchronous standbys only" in d.log_text(), 10, what="the warning")
        time.sleep(2.5)  # a few checks later: still one warning
        warnings = [line for line in d.log_text().splitlines() if "asynchronous standbys only" in line]
        assert len(warnings) == 1, warnings
        assert " warning: " in warnings[0] and "synchronous_mode: true" in warnings[0], warnings[0]
        assert metric_sample(d, "pez_database_failover_safe") == 0
        r, verdict, fields = status_fields(d)
        assert r.returncode == 0 and verdict.endswith(": ready"), r
        assert fields["failover"].startswith("NOT SAFE: asynchronous standbys only (2 standbys"), fields["failover"]
        status = json.loads(d.pez("status", "--json").stdout)
        assert status["database"]["failover_safe"] is False
        # Numbers are still handed out: the setting that refuses them is off.
        assert d.get("/readyz").status == 200
    finally:
        cluster.set_synchronous(True)
    # Patroni names a synchronous standby: pezd sees it at its next check, within a second or so.
    wait_until(lambda: metric_sample(d, "pez_database_failover_safe") == 1, 10, what="the metric to say safe")
    assert re.search(r"info: failover: the primary at \S+: safe: commits wait for a synchronous standby", d.log_text())
    _, _, fields = status_fields(d)
    assert fields["failover"].startswith("safe: "), fields["failover"]


def test_require_synchronous_standby_refuses_while_none_is_left_and_serves_when_one_returns(cluster, daemons):
    required = [daemons("multi-host", "strict", ["--require-synchronous-standby", "on"]),
                daemons("haproxy", "block", ["--require-synchronous-standby", "on"])]
    plain = daemons("multi-host", "strict")
    before = [n for d in required for n in d.numbers("forward", 5)]
    for d in required:
        assert metric_sample(d, "pez_database_failover_safe") == 1
    leader = cluster.leader()
    # Both standbys go, the synchronous one last: Patroni (synchronous_mode, not strict) lets the
    # primary go on alone and empties synchronous_standby_names. In the other order Patroni 3.0 can
    # name the second standby for good: it names it when the first goes, and when the second goes
    # too before Patroni has seen it synchronous (it looks 2 s later), its record of the
    # synchronous standby stays empty and, with none left to pick, it sees nothing to change.
    roles = {m["name"]: m.get("role") for m in cluster.state()["members"]}
    replicas = sorted((n for n in cluster.nodes if n is not leader),
                      key=lambda n: roles.get(n.name) == "sync_standby")
    assert roles.get(replicas[-1].name) == "sync_standby", roles
    for node in replicas:
        node.stop()
    try:
        wait_until(lambda: leader.psql("postgres", "SHOW synchronous_standby_names") == "", 30,
                   what=lambda: "Patroni to go on without a synchronous standby (synchronous_standby_names "
                   f"{leader.psql('postgres', 'SHOW synchronous_standby_names')!r})\n{leader.log_tail(3000)}")

        def refused(d):
            r = d.get("/v1/forward")
            return r.status == 503 and "require_synchronous_standby" in r.json()["error"]

        for d in required:
            wait_until(lambda: refused(d), 10, what=f"{d.name} to refuse")
            assert d.get("/v2/forward?count=3").headers.get("retry-after")
            ready = d.get("/readyz")
            assert ready.status == 503 and "no synchronous standby configured" in ready.json()["error"], ready
            c = d.lines()
            answer = c.ask("NEXT forward 2")
            c.close()
            assert answer.startswith("ERR unavailable ") and "require_synchronous_standby" in answer, answer
            assert d.pez("forward").returncode == 75
            r, verdict, fields = status_fields(d)
            assert "NOT READY (refused: no synchronous standby)" in verdict, verdict
            assert "numbers refused: require_synchronous_standby" in fields["failover"], fields
            assert metric_sample(d, "pez_database_failover_safe") == 0
            assert re.search(r"error: refusing to hand out numbers: require_synchronous_standby is on",
                             d.log_text()), d.name
        # Without the setting pezd goes on, and says what it stands on.
        assert plain.get("/v1/forward").status == 200
        assert metric_sample(plain, "pez_database_failover_safe") == 0
    finally:
        for node in replicas:
            node.start()
    cluster.wait_healthy()
    for d in required:
        wait_until(lambda: d.get("/v1/forward", timeout=5).status == 200, 20, what=f"{d.name} to serve again")
        assert d.get("/readyz").status == 200
        assert "handing out numbers again" in d.log_text()
    after = [n for d in required for n in d.numbers("forward", 5)]
    assert min(after) > max(before)


class Record:
    """Every answer the clients got, as it happened."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = []  # (daemon, transport, start, end, numbers)
        self.unavailable = {}  # (url kind, transport) -> count
        self.problems = []
        self.longest = 0.0

    def answered(self, d, transport, start, end, numbers):
        with self.lock:
            self.longest = max(self.longest, end - start)
            if end - start > BOUND:
                self.problems.append(f"{d.name} {transport}: a request took {end - start:.2f}s (bound {BOUND:g}s)")
            if numbers is None:
                key = (d.url_kind, transport)
                self.unavailable[key] = self.unavailable.get(key, 0) + 1
            else:
                self.answers.append((d, transport, start, end, numbers))

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def twice(self, limit=5):
        """The first numbers acknowledged more than once, each with every answer that carried it
        (daemon, its URL kind and mode, transport, when the request began and ended)."""
        seen = {}
        with self.lock:
            for d, transport, start, end, numbers in self.answers:
                for n in numbers:
                    seen.setdefault(n, []).append((d.name, d.url_kind, d.mode, transport, round(start, 3),
                                                   round(end, 3)))
        return [(n, answers) for n, answers in sorted(seen.items()) if len(answers) > 1][:limit]

    def numbers(self, until=None):
        with self.lock:
            return [n for (_, _, _, end, numbers) in self.answers if until is None or end < until for n in numbers]


def http_client(d, stop, record):
    def answered(r, body, start, end):
        if r.status == 200:
            record.answered(d, "http", start, end, json.loads(body))
        elif r.status == 503 and r.getheader("Retry-After"):
            record.answered(d, "http", start, end, None)
        else:
            record.problem(f"{d.name} http: {r.status} {body!r}")

    harness.keep_alive_load(d.address, stop, answered, lambda e: record.problem(f"{d.name} http: {e!r}"),
                            timeout=BOUND + 10, pause=0.01, retry_pause=0.1)


def socket_client(d, stop, record):
    c = None
    while not stop.is_set():
        start = time.monotonic()
        try:
            if c is None:
                c = d.lines(timeout=BOUND + 10)
            answer = c.ask("NEXT forward 5")
        except (OSError, EOFError) as e:
            record.problem(f"{d.name} socket: {e!r}")
            c = None
            time.sleep(0.1)
            continue
        end = time.monotonic()
        if answer.startswith("OK "):
            record.answered(d, "socket", start, end, [int(n) for n in answer.split()[1:]])
        elif answer.startswith("ERR unavailable "):
            record.answered(d, "socket", start, end, None)
        else:
            record.problem(f"{d.name} socket: {answer!r}")
        time.sleep(0.01)


def prober(d, stop, served, probe_numbers, record):
    """/v1/probe, a sequence in strict mode on every daemon: a 200 is a number the database gave
    now, not one from a block in memory. served gets the end time of each."""
    while not stop.is_set():
        start = time.monotonic()
        try:
            r = d.get("/v1/probe", timeout=BOUND + 10)
        except OSError as e:
            record.problem(f"{d.name} probe: {e!r}")
            time.sleep(0.1)
            continue
        end = time.monotonic()
        if r.status == 200:
            served.append(end)
            probe_numbers.append(int(r.body))
        elif r.status != 503:
            record.problem(f"{d.name} probe: {r}")
        if end - start > BOUND:
            record.problem(f"{d.name} probe took {end - start:.2f}s")
        time.sleep(0.05)


def last_value(node):
    with node.connect("pez") as conn, conn.cursor() as cur:
        cur.execute("SELECT last_value FROM pez.forward")
        return cur.fetchone()[0]


FAULTS = ["switchover", "kill -9 leader", "etcd down", "leader's Patroni frozen"]


def test_switchover_failover_lost_dcs_and_frozen_leader_hand_out_no_number_twice(cluster, daemons):
    ttl = patroni.TIMING["ttl"]
    fleet = [daemons(kind, mode) for kind in ("multi-host", "haproxy") for mode in ("strict", "block") for _ in (0, 1)]
    r = fleet[0].pez("admin", "create", "probe", "--mode", "strict")
    assert r.returncode == 0, r.stderr
    record = Record()
    stop = threading.Event()
    served = {d.name: [] for d in fleet}
    probe_numbers = []
    threads = []
    for d in fleet:
        threads += [threading.Thread(target=http_client, args=(d, stop, record)),
                    threading.Thread(target=socket_client, args=(d, stop, record)),
                    threading.Thread(target=prober, args=(d, stop, served[d.name], probe_numbers, record))]
    for t in threads:
        t.start()
    results = []
    try:
        for fault in FAULTS:
            time.sleep(2)  # under load
            cluster.wait_healthy()
            old = cluster.leader()
            sync = next(m["name"] for m in cluster.state()["members"] if m.get("role") == "sync_standby")
            began = time.monotonic()
            acked_before = len(record.numbers())
            if fault == "switchover":
                cluster.patronictl("switchover", "--leader", old.name, "--candidate", sync, "--force")
                new, writable = patroni.wait_writable(cluster.nodes, exclude=[old])
            elif fault == "kill -9 leader":
                old.kill9()
                new, writable = patroni.wait_writable(cluster.nodes, exclude=[old], timeout=ttl + 30)
            elif fault == "etcd down":
                cluster.etcd.stop()
                # The leader cannot renew its key: it demotes itself; nobody accepts writes.
                wait_until(lambda: not patroni.any_writable(cluster.nodes), ttl + 20, interval=0.1,
                           what="the leader to demote itself without its DCS")
                time.sleep(max(0.0, began + ttl + 4 - time.monotonic()))
                for d in fleet:
                    if d.mode == "strict":
                        assert d.get("/v1/forward").status == 503, f"{d.name} served without a leader"
                cluster.etcd.start()
                new, writable = patroni.wait_writable(cluster.nodes, timeout=ttl + 40)
            else:
                old.freeze()  # a partitioned leader: its PostgreSQL goes on, its Patroni is silent
                new, writable = patroni.wait_writable(cluster.nodes, exclude=[old], timeout=ttl + 30)
            # Every number acknowledged before the new leader took writes is in it.
            at_leader = last_value(new)
            before = record.numbers(until=writable)
            assert not before or max(before) <= at_leader, (fault, max(before), at_leader)
            if fault == "leader's Patroni frozen":
                time.sleep(max(0.0, began + ttl + 4 - time.monotonic()))
                # What a watchdog does to a leader whose Patroni hangs (pezd(8)), later than one
                # would (it fires before ttl runs out): Patroni and PostgreSQL stopped at once.
                # Thawed instead, Patroni 3.0 can act on the DCS as it saw it when it froze and
                # take the leader key back from the new leader, whose commits are then rewound
                # away: a split brain that no client of the cluster survives.
                old.kill9()
            # Each daemon serves again: a number from the database, not from a block.
            recovery = {}
            for d in fleet:
                wait_until(lambda: any(t >= writable for t in served[d.name]), 60, interval=0.05,
                           what=f"{d.name} ({d.url_kind}) to serve again after {fault}")
                recovery[d.name] = min(t for t in served[d.name] if t >= writable) - writable
            if fault in ("kill -9 leader", "leader's Patroni frozen"):
                old.start()  # it rejoins as a replica (pg_rewind)
                # A member that has not rejoined after a minute is cloned afresh, as an operator
                # would (Patroni's rejoin, not pezd, is what that waits for); the summary says so.
                cluster.wait_healthy(heal_after=60)
            else:
                cluster.wait_healthy()
            results.append({"fault": fault, "old": old.name, "new": new.name, "began": round(began, 3),
                            "writable": round(writable, 3),
                            "leader_after_s": round(writable - began, 2),
                            "acknowledged_during": len(record.numbers()) - acked_before,
                            "recovery": {kind: sorted(round(recovery[d.name], 3) for d in fleet if d.url_kind == kind)
                                         for kind in ("multi-host", "haproxy")}})
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    numbers = record.numbers()
    assert len(numbers) > 1000, len(numbers)
    assert len(numbers) == len(set(numbers)), \
        f"a number was acknowledged twice: {record.twice()}; the faults (monotonic clock): {results}; " \
        f"heals: {[(h['node'], h['action'], round(h['at'], 3)) for h in cluster.heals]}"
    assert len(probe_numbers) == len(set(probe_numbers)), "a probe number was acknowledged twice"
    assert max(numbers) <= last_value(cluster.leader())
    assert not record.problems, record.problems[:20]
    for d in fleet:
        assert d.stop() == 0, d.name
    summary = {
        "faults": results,
        "daemons": {kind: {mode: sum(1 for d in fleet if d.url_kind == kind and d.mode == mode)
                           for mode in ("strict", "block")} for kind in ("multi-host", "haproxy")},
        "answers": len(record.answers),
        "numbers": len(numbers),
        "numbers_by_transport": {t: sum(len(a[4]) for a in record.answers if a[1] == t) for t in ("http", "socket")},
        "probe_numbers": len(probe_numbers),
        "duplicates": len(numbers) - len(set(numbers)),
        "unavailable": {f"{k[0]} {k[1]}": v for k, v in sorted(record.unavailable.items())},
        "longest_request_s": round(record.longest, 2),
        "bound_s": BOUND,
        "timing": patroni.TIMING,
        "heals": [{"node": h["node"], "action": h["action"]} for h in cluster.heals],
    }
    for heal in cluster.heals:
        print(f"\nhealed {heal['node']} ({heal['action']}); its log before:\n{heal['log']}")
    if SUMMARY:
        with open(SUMMARY, "w") as f:
            json.dump(summary, f, indent=1)
    print("\n" + figures.summary_text(summary))
