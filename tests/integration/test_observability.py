# SPDX-License-Identifier: Apache-2.0
"""What operators see: /metrics families documented in pezd(8), error answers logged with the
peer and a request id (and HTTP's X-Request-Id), and pez status."""

import datetime
import json
import os
import re

from harness import LineClient, documented_metrics, run_pez, wait_until


def test_every_metric_is_documented_with_its_labels(pezd):
    # Some traffic first, so that every labelled family has a value.
    pezd.numbers("forward", 3)
    pezd.get("/v2/forward?count=0")
    c = pezd.lines()
    assert c.ask("NEXT forward").startswith("OK ")
    c.close()
    body = pezd.get("/metrics").body
    families = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
    documented = documented_metrics()
    assert families == set(documented), (families ^ set(documented))
    for line in body.splitlines():
        if line.startswith("#") or not line:
            continue
        match = re.match(r"([a-z_]+?)(?:_bucket|_sum|_count)?(?:\{(.*)\})? ", line)
        name = match.group(1)
        family = name if name in documented else re.sub(r"_(bucket|sum|count)$", "", name)
        labels = set(re.findall(r'([a-z_]+)="', match.group(2) or ""))
        assert labels <= documented[family], (line, documented[family])


def test_error_answers_are_logged_with_peer_and_request_id(pezd):
    r = pezd.get("/v2/forward?count=0")
    assert r.status == 400
    request_id = r.headers["x-request-id"]
    assert re.fullmatch(r"h\d+-1", request_id), request_id
    assert "x-request-id" not in pezd.get("/v1/forward").headers
    log = pezd.log_text()
    assert re.search(rf"info: http 127\.0\.0\.1:\d+ request {request_id}: 400 count must be", log), log

    c = LineClient(pezd.socket)
    assert c.ask("PING") == "OK pong"
    assert c.ask("NEXT no-such-sequence").startswith("ERR not-found")
    c.close()
    log = pezd.log_text()
    assert re.search(rf"info: socket uid {os.geteuid()} pid \d+ request s\d+-2: ERR not-found", log), log


def test_pez_status_reads_at_a_glance(pezd):
    pezd.numbers("forward", 2)
    r = pezd.pez("status")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"pezd \S+: ready", lines[0]), r.stdout
    fields = dict(re.match(r"([a-z]+): +(.*)", line).groups() for line in lines[1:])
    assert set(fields) == {"socket", "pid", "mode", "uptime", "http", "database", "failover", "conninfo", "sequences",
                           "requests", "numbers", "clients"}
    # A lone server: no standby to fail over to (tests/ha/ shows the others).
    assert fields["failover"].startswith("no standby"), fields["failover"]
    assert fields["database"].startswith("up, ")
    assert re.fullmatch(r"\d+s|\d+m \d+s", fields["uptime"])
    assert re.fullmatch(r"\d+ handed out", fields["numbers"]) and int(fields["numbers"].split()[0]) >= 2


def status_fields(r):
    return dict(re.match(r"([a-z]+): +(.*)", line).groups() for line in r.stdout.splitlines()[1:])


def test_pez_status_says_where_it_found_pezd_and_what_pezd_is(start_pezd):
    pezd = start_pezd(["--threads", "1"], env={"PEZ_DB_PASSWORD": "hunter2-xyzzy"})
    by_env = pezd.pez("status")  # the harness gives pez PEZ_SOCKET
    assert by_env.returncode == 0, by_env
    fields = status_fields(by_env)
    assert fields["socket"] == f"{pezd.socket} (from PEZ_SOCKET)"
    assert fields["pid"] == str(pezd.proc.pid)
    assert fields["http"] == pezd.address
    assert fields["mode"].endswith(", 1 thread")
    assert re.fullmatch(r"up, \d+ connections? to .*", fields["database"])
    assert "hunter2-xyzzy" not in by_env.stdout
    by_flag = run_pez(["--socket", pezd.socket, "status"])
    assert status_fields(by_flag)["socket"] == f"{pezd.socket} (from --socket)"
    one = pezd.lines()
    assert re.fullmatch(r"\d+ connections? open", status_fields(pezd.pez("status"))["clients"])
    assert status_fields(pezd.pez("status"))["clients"] != "1 connections open"
    one.close()
    as_json = json.loads(pezd.pez("status", "--json").stdout)
    assert as_json["pid"] == pezd.proc.pid and as_json["http"] == pezd.address and as_json["not_ready"] is None


def test_pez_status_exits_like_pez_forward_when_pezd_cannot_hand_out_numbers(start_pezd, cluster):
    # Usable like pg_isready: 0 ready, 75 database unavailable, 78 settings wrong, 69 no pezd.
    pezd = start_pezd(["--request-timeout", "1s"])
    assert pezd.pez("status").returncode == 0
    cluster.stop("fast")  # a clean stop: no crash recovery to wait for at start
    try:
        wait_until(lambda: pezd.get("/readyz").status == 503, 10, what="pezd to notice")
        r = pezd.pez("status")
        assert r.returncode == 75 == pezd.pez("forward").returncode, r
        assert r.stdout.startswith("pezd ") and "NOT READY" in r.stdout
        assert r.stderr.startswith("pez: error: pezd cannot hand out numbers now: the database is unavailable")
        assert len(r.stderr.splitlines()) == 1
        as_json = pezd.pez("status", "--json")
        assert as_json.returncode == 75 and json.loads(as_json.stdout)["not_ready"]["code"] == "unavailable"
    finally:
        cluster.start()
    wrong = start_pezd(["--request-timeout", "1s"], database="no_such_database", wait_ready=False)
    wait_until(lambda: "database unavailable" in wrong.log_text(), 10, what="the first failed attempt")
    r = wrong.pez("status")
    assert r.returncode == 78 == wrong.pez("forward").returncode, r
    assert "database settings wrong" in r.stdout.splitlines()[0]
    pezd.stop()
    assert pezd.pez("status").returncode == 69


def test_readiness_answers_are_not_logged_as_warnings(start_pezd, cluster):
    # A balancer polls /readyz through an outage: its 503s are the endpoint doing its job, and the
    # outage itself is logged when it begins. A request for numbers refused meanwhile is logged.
    pezd = start_pezd(["--request-timeout", "1s"])
    cluster.stop("fast")
    try:
        wait_until(lambda: pezd.get("/readyz").status == 503, 10, what="pezd to notice")
        for _ in range(5):
            assert pezd.get("/readyz").status == 503
        refused = pezd.get("/v1/forward")
        assert refused.status == 503, refused
        wait_until(lambda: refused.json()["request_id"] in pezd.log_text(), 10, what="the refusal to be logged")
        lines = [line for line in pezd.log_text().splitlines() if " request h" in line]
        # The tests' pezd logs at debug: there the readiness answers are, and only there.
        answers = [line for line in lines if " debug: " not in line]
        assert len(answers) == 1 and " warning: " in answers[0], answers
        assert refused.json()["request_id"] in answers[0], answers
        assert len([line for line in lines if " debug: " in line and " 503 " in line]) >= 5, lines
        assert "database unavailable" in pezd.log_text()
    finally:
        cluster.start()


def test_log_times_are_utc_with_their_zone(start_pezd):
    # As the admin answers' times are (created_at, reset_at): one clock, whatever TZ says.
    pezd = start_pezd(env={"TZ": "JST-9"})
    first = pezd.log_text().splitlines()[0]
    stamp = re.match(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})Z ", first)
    assert stamp, first
    logged = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - logged).total_seconds()) < 120, first
