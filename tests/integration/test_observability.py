"""What operators see: /metrics families documented in pezd(8), error answers logged with the
peer and a request id (and HTTP's X-Request-Id), and pez status."""

import os
import re

from harness import ROOT, LineClient


def documented_metrics():
    with open(os.path.join(ROOT, "man", "pezd.8")) as f:
        page = f.read()
    section = page.split(".Ss Metrics", 1)[1].split(".Ss ", 1)[0]
    # ".It Li pez_numbers_total Brq Li sequence", ".It Li pez_requests_total Brq Li transport=..., code"
    families = {}
    for m in re.finditer(r"^\.It Li (pez_[a-z_]+)(?: Brq (.*))?$", section, re.M):
        labels = {re.match(r"\s*(?:Li )?([a-z_]+)", part).group(1) for part in (m.group(2) or "").split(",")
                  if part.strip()}
        families.setdefault(m.group(1), set()).update(labels)
    return families


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
    assert set(fields) == {"mode", "uptime", "database", "failover", "sequences", "requests", "numbers",
                           "clients"}
    # A lone server: no standby to fail over to (tests/ha/ shows the others).
    assert fields["failover"].startswith("no standby"), fields["failover"]
    assert fields["database"].startswith("up, ")
    assert re.fullmatch(r"\d+s|\d+m \d+s", fields["uptime"])
    assert re.fullmatch(r"\d+ handed out", fields["numbers"]) and int(fields["numbers"].split()[0]) >= 2
