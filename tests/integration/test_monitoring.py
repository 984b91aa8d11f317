# SPDX-License-Identifier: Apache-2.0
"""The monitoring that ships with PEZ: the Prometheus alert rules (packaging/prometheus/, their own
tests run by promtool in CTest's prometheus_rules) and the Grafana dashboard (packaging/grafana/).
Every metric their queries use is documented in pezd(8) and served by a real pezd; the dashboard
is a Grafana dashboard whose queries Prometheus reads."""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from harness import ROOT, documented_metrics, wait_until

ALERTS = os.path.join(ROOT, "packaging", "prometheus", "pez-alerts.yml")
DASHBOARD = os.path.join(ROOT, "packaging", "grafana", "pez-dashboard.json")
# Series Prometheus makes itself, not pezd.
PROMETHEUS_OWN = {"up"}
HISTOGRAMS = {"pez_request_duration_seconds"}
# What Grafana puts into a query before Prometheus sees it.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": ".*", "$instance": ".*"}


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_queries():
    d = dashboard()
    for panel in d["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in d["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(SELECTOR, label) is Grafana's; the selector inside is Prometheus's.
            yield re.fullmatch(r"label_values\((.*), *[a-z_]+\)", variable["query"]["query"]).group(1)


def alert_queries():
    with open(ALERTS) as f:
        rules = yaml.safe_load(f)
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def metrics_in(expr):
    """The metric names a PromQL expression selects: pez_... anywhere, and any name written
    before a label matcher."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    return set(re.findall(r"\b(pez_[a-z_]+)\b", bare)) | set(re.findall(r"\b([a-z_:][a-z0-9_:]*)\{", bare))


def family(name):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base if base in HISTOGRAMS else name


def used_metrics():
    used = set()
    for expr in [*dashboard_queries(), *alert_queries()]:
        used |= metrics_in(expr)
    return used


def test_the_dashboard_is_a_grafana_dashboard():
    d = dashboard()
    assert d["title"] == "PEZ" and d["uid"] and isinstance(d["schemaVersion"], int)
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), ids
    titles = set()
    for panel in d["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "table", "bargauge"}, panel["type"]
        assert panel["title"] not in titles
        titles.add(panel["title"])
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
    # No panel covers another (Grafana would push one down, out of its row).
    cells = {}
    for panel in d["panels"]:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f'{panel["title"]} covers {cells[(x, y)]}'
                cells[(x, y)] = panel["title"]
    # What the issue asks it to show.
    text = " ".join(dashboard_queries())
    for needed in ("pez_requests_total", "pez_request_duration_seconds_bucket", "pez_numbers_total",
                   "pez_sequence_rate", "pez_reserved_numbers", "pez_sequence_remaining",
                   "pez_sequence_exhaustion_eta_seconds", "pez_db_errors_total", "pez_database_failover_safe",
                   "pez_database_commits_stalled"):
        assert needed in text, needed


def test_prometheus_reads_every_query_of_the_dashboard(workdir):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: install Debian's prometheus package (scripts/setup-deps)")
    rules = []
    for i, expr in enumerate(dashboard_queries()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = os.path.join(workdir, "dashboard-queries.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_metric_of_the_dashboard_and_the_alerts_is_documented_and_served(start_pezd):
    used = used_metrics()
    assert {"pez_sequence_exhaustion_eta_seconds", "pez_ready", "up"} <= used, used
    documented = documented_metrics()
    for name in used - PROMETHEUS_OWN:
        assert family(name) in documented, f"{name} is used but pezd(8) does not document it"
    # A real pezd, with traffic and readings of the sequences, serves a sample of each.
    pezd = start_pezd(["--usage-interval", "200ms"])
    pezd.numbers("forward", 5)
    pezd.get("/v2/forward?count=0")

    def served():
        body = pezd.get("/metrics").body
        missing = [n for n in used - PROMETHEUS_OWN if not re.search(rf"^{n}[{{ ]", body, re.M)]
        return not missing

    wait_until(served, 20, what="every metric the dashboard and alerts use to be served")
