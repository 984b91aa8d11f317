# SPDX-License-Identifier: Apache-2.0
"""Rates and exhaustion forecasts (issue 14): every pezd reads where each sequence stands in the
database, so each reports what all daemons take together, not its own share; what is left and
when it runs out or wraps; a reset starts the window again; the same in /metrics. The readings
come every 200 ms here (usage_interval); nothing below depends on how long anything takes."""

import json
import os
import re
import subprocess
import time

import jsonschema
import pytest

import harness
from harness import MODE, PEZD, metric, wait_until

FAST = ["--usage-interval", "200ms"]
MAX = 10**15


def inspect(pezd, name):
    r = pezd.pez("admin", "inspect", name, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def moved(cluster, db, name, start=1):
    """How far an ascending sequence has moved in the database since start: every number taken
    or reserved by any daemon."""
    last, called = cluster.psql(db, f'SELECT last_value, is_called FROM pez."{name}"').split("|")
    return int(last) - start + 1 if called == "t" else 0


def measured(pezd, name):
    """Waits until pezd has read the sequence twice: its rates are known (0 while unused)."""
    return wait_until(lambda: inspect(pezd, name)["rate_1h"] is not None, 20,
                      what=f"{pezd.name} to measure {name}")


def table(text):
    """pez admin list's rows by name, each cell under its heading (a cell may hold a space)."""
    lines = text.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    names = lines[0].split()
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def labels(name, window=None):
    return f'sequence="{name}"' + (f',window="{window}"' if window else "")


def test_every_daemon_reports_what_all_daemons_take_together(start_pezd, cluster, db):
    a = start_pezd(FAST)
    b = start_pezd(FAST)
    # Room for the blocks block mode reserves at the rate it sees (it does not run out).
    assert a.pez("admin", "create", "tickets", "--max", str(MAX), "--no-cycle").returncode == 0
    # Both have read it twice before anything is taken: their windows hold every number taken.
    for d in (a, b):
        measured(d, "tickets")
    took_at = time.monotonic()
    for _ in range(3):
        assert len(a.numbers("tickets", 100)) == 100
        assert len(b.numbers("tickets", 100)) == 100

    def settled():
        total = moved(cluster, db, "tickets")
        seen = [inspect(d, "tickets") for d in (a, b)]
        return all(s["taken_1h"] == total and s["left"] == MAX - total for s in seen) and (total, seen)

    total, seen = wait_until(settled, 30, what="both daemons to count every number either took")
    # Strict mode takes exactly what was handed out; block mode moves the sequence by whole blocks.
    assert total == 600 if MODE == "strict" else total >= 600
    fresh = time.monotonic() - took_at < 40  # the minute's window still reaches back to the takes
    for s in seen:
        assert s["rate_1h"] > 0 and s["rate_1m"] is not None
        assert s["taken_1m"] <= s["taken_1h"]
        if fresh:
            assert s["taken_1m"] == total and s["rate_1m"] > 0
        assert s["cycle"] is False and s["exhausted"] is False
        # When it runs out, at the hour's rate: what is left over the rate, in whole seconds.
        assert s["eta_seconds"] == pytest.approx(s["left"] / s["rate_1h"], abs=1)
    # Each handed out its own share; each reports the whole.
    for d in (a, b):
        body = d.get("/metrics").body
        assert metric(body, "pez_numbers_total", labels("tickets")) == 300
        assert metric(body, "pez_sequence_remaining", labels("tickets")) == MAX - total
        assert metric(body, "pez_sequence_cycles", labels("tickets")) == 0
        hourly = metric(body, "pez_sequence_rate", labels("tickets", "1h"))
        assert hourly > 0 and f"pez_sequence_rate{{{labels('tickets', '1m')}}} " in body
        eta = metric(body, "pez_sequence_exhaustion_eta_seconds", labels("tickets"))
        assert eta == pytest.approx((MAX - total) / hourly, rel=1e-9)


def test_pez_admin_list_and_inspect_show_rate_and_eta(start_pezd, cluster, db):
    pezd = start_pezd(FAST)
    # Strict, so that block mode's reserves do not run it out: what is shown is the same in both.
    assert pezd.pez("admin", "create", "tickets", "--max", "1000000", "--no-cycle", "--mode", "strict").returncode == 0
    assert pezd.pez("admin", "create", "small", "--max", "10", "--no-cycle", "--mode", "strict").returncode == 0
    for name in ("tickets", "small"):
        measured(pezd, name)
    pezd.numbers("tickets", 50)
    pezd.numbers("small", 10)
    wait_until(lambda: inspect(pezd, "tickets")["taken_1h"] == moved(cluster, db, "tickets")
               and inspect(pezd, "small")["left"] == 0, 20, what="the takes to be read")
    rows = table(pezd.pez("admin", "list").stdout)
    assert rows["tickets"]["RATE"].endswith(("/s", "/min", "/h")) and rows["tickets"]["RATE"] != "0/s"
    assert re.fullmatch(r"\d+[ydhms]( \d+[dhms])?", rows["tickets"]["ETA"]), rows["tickets"]
    assert rows["small"]["ETA"] == "now"  # run out
    human = pezd.pez("admin", "inspect", "tickets").stdout
    fields = dict(line.split(":", 1) for line in human.splitlines())
    assert {"rate, last minute", "rate, last hour", "runs out in", "left before run out"} <= set(fields)
    assert fields["runs out in"].strip()[0].isdigit(), human
    forward = dict(line.split(":", 1) for line in pezd.pez("admin", "inspect", "forward").stdout.splitlines())
    assert "wraps in" in forward and "runs out in" not in forward


def test_a_wrap_counts_the_numbers_on_both_sides_of_it(start_pezd):
    # A strict sequence (whatever the daemon's mode), so that exactly what is handed out moves it.
    pezd = start_pezd(FAST)
    assert pezd.pez("admin", "create", "wrap", "--max", "100", "--mode", "strict").returncode == 0
    measured(pezd, "wrap")
    assert pezd.numbers("wrap", 60) == list(range(1, 61))
    wait_until(lambda: inspect(pezd, "wrap")["taken_1h"] == 60, 20, what="60 numbers to be read")
    assert pezd.numbers("wrap", 60) == list(range(61, 101)) + list(range(1, 21))
    seen = wait_until(lambda: (s := inspect(pezd, "wrap"))["taken_1h"] == 120 and s, 20,
                      what="the wrap to be read")
    assert seen["left"] == 80 and seen["cycle"] is True
    assert seen["eta_seconds"] == pytest.approx(80 / seen["rate_1h"], abs=1)
    body = pezd.get("/metrics").body
    assert metric(body, "pez_sequence_cycles", labels("wrap")) == 1
    assert metric(body, "pez_sequence_remaining", labels("wrap")) == 80


def read_up_to_date(pezd, name):
    """pez admin inspect's view of a sequence once pezd's latest reading is where the sequence
    stands now: the numbers left that the reading found (pez_sequence_remaining) are those left
    now (read when asked)."""
    def current():
        s = inspect(pezd, name)
        body = pezd.get("/metrics").body
        # No reading that counted anything new came between: the counts are the same a moment
        # later. (The rates and the ETA move with every reading as time passes, so the whole
        # answer is the same only when no reading comes between two inspects: under a loaded
        # machine's sanitizer build, where an inspect takes longer than usage_interval, hardly ever.)
        again = inspect(pezd, name)
        return (s["taken_1h"] is not None and metric(body, "pez_sequence_remaining", labels(name)) == s["left"]
                and all(s[k] == again[k] for k in ("taken_1h", "taken_1m", "left", "next", "generation")) and s)
    return wait_until(current, 20, what=f"{pezd.name} to read where {name} stands")


def test_a_reset_starts_the_window_again(start_pezd):
    pezd = start_pezd(FAST)
    other = start_pezd(FAST)
    # (A range whose counts a double holds exactly, as /metrics writes them.)
    assert pezd.pez("admin", "create", "tickets", "--max", str(MAX)).returncode == 0
    for d in (pezd, other):
        measured(d, "tickets")
    pezd.numbers("tickets", 50)
    before = {d.name: read_up_to_date(d, "tickets") for d in (pezd, other)}
    assert all(s["taken_1h"] >= 50 for s in before.values())
    # Far ahead: a window that went on would count the half million numbers skipped.
    assert pezd.pez("admin", "reset", "tickets", "--to", "500000").returncode == 0
    for d in (pezd, other):
        # Only what was taken since the reset (block mode may reserve at once, before a reading).
        wait_until(lambda: (s := read_up_to_date(d, "tickets"))["generation"] > before[d.name]["generation"]
                   and s["next"] >= 500000, 20, what=f"{d.name} to read the reset")
        after = read_up_to_date(d, "tickets")
        assert after["taken_1h"] <= after["next"] - 500000, after
    # From then on each counts what any takes.
    start = {d.name: read_up_to_date(d, "tickets") for d in (pezd, other)}
    for _ in range(5):
        other.numbers("tickets", 100)
    for d in (pezd, other):
        wait_until(lambda: (s := read_up_to_date(d, "tickets"))["left"] < start[d.name]["left"]
                   and s["taken_1h"] - start[d.name]["taken_1h"] == start[d.name]["left"] - s["left"], 20,
                   what=f"{d.name} to count the takes after the reset")


def test_the_daemons_of_a_role_share_one_reading_an_interval(start_pezd, cluster, db):
    # sql/016_shared_usage.sql: each interval one daemon of a role reads where the sequences stand
    # (pez.usage, through pez.usage_refresh) and stores it; the others take what it stored
    # (pez.usage_stored). Four daemons at one interval: about one reading in four is made afresh.
    cluster.psql(db, f'ALTER DATABASE "{db}" SET track_functions = \'all\'')
    daemons = [start_pezd(FAST) for _ in range(4)]
    assert daemons[0].pez("admin", "create", "shared", "--max", str(MAX), "--no-cycle").returncode == 0
    for d in daemons:
        measured(d, "shared")

    def calls():
        rows = cluster.psql(db, "SELECT funcname, calls FROM pg_stat_user_functions WHERE schemaname = 'pez'"
                                " AND funcname IN ('usage', 'usage_stored')")
        return {name: int(n) for name, n in (line.split("|") for line in rows.splitlines() if line)}

    # Counters flush within a second of a backend going idle; every daemon reads 5 times a second.
    counted = wait_until(lambda: (c := calls()) and sum(c.values()) >= 60 and c, 60, what="60 readings counted")
    fresh, shared = counted.get("usage", 0), counted.get("usage_stored", 0)
    assert shared > 0 and fresh < (fresh + shared) / 2, counted
    for _ in range(3):
        assert len(daemons[1].numbers("shared", 50)) == 50
    total = moved(cluster, db, "shared")
    for d in daemons:
        wait_until(lambda: inspect(d, "shared")["taken_1h"] == total, 20, what=f"{d.name} to count the takes")


def test_when_the_reading_daemon_is_killed_another_reads(start_pezd, cluster, db):
    # The daemon that claimed the last round keeps reading while it is there; killed, it claims
    # nothing more, and once its round is 1.5 intervals old another daemon of the role claims it:
    # the rates of the others go on counting what is taken.
    daemons = [start_pezd(FAST) for _ in range(3)]
    assert daemons[0].pez("admin", "create", "relay", "--max", str(MAX), "--no-cycle").returncode == 0
    for d in daemons:
        measured(d, "relay")

    def reader():
        """The pid of the daemon that claimed the role's last round, and the round."""
        row = cluster.psql(db, "SELECT daemon, round FROM pez.usage_rounds")
        daemon, round_number = row.split("|")
        return int(daemon.split("-")[0]), int(round_number)

    pid, _ = reader()
    killed = next(d for d in daemons if d.proc.pid == pid)
    killed.kill9()
    left = [d for d in daemons if d is not killed]
    pid_after, round_after = wait_until(lambda: (r := reader())[0] != pid and r, 20, what="another daemon to read")
    assert pid_after in [d.proc.pid for d in left]
    wait_until(lambda: reader()[1] >= round_after + 3, 20, what="three more rounds")
    for _ in range(3):
        assert len(left[0].numbers("relay", 40)) == 40
    total = moved(cluster, db, "relay")
    for d in left:
        wait_until(lambda: inspect(d, "relay")["taken_1h"] == total, 20, what=f"{d.name} to count the takes")


def test_stored_readings_name_only_sequences_there_are(start_pezd, cluster):
    # pez.usage_store runs with its owner's rights: a role with just the grants may not fill the
    # table with names of its own making, nor read the table itself (another role's readings).
    database = cluster.create_split_database()
    role = harness.APP_ROLE
    pezd = start_pezd(FAST, user=role, database=database)
    measured(pezd, "forward")
    ident = cluster.psql(database, "SELECT 'pez.forward'::regclass::oid")
    fake = "ARRAY[ROW('{name}', {oid}, 1, 1, 1, 100, 1, false, 99, true, NULL)]::pez.usage_position[]"
    # Read later than any real reading, so that only the check of the names keeps them out.
    for name, oid in (("nosuch", ident), ("forward", "1"), ("reverse", ident)):
        cluster.psql(database, f"SELECT pez.usage_store(1, 9000000000000, {fake.format(name=name, oid=oid)})",
                     user=role)
    stored = cluster.psql(database, "SELECT name, last_value, read_at FROM pez.usage_stored()", user=role)
    assert "forward|" in stored and "nosuch" not in stored and "|99|" not in stored, stored
    many = ("ARRAY(SELECT ROW('forward', 1, 1, 1, 1, 100, 1, false, 1, true, NULL)::pez.usage_position"
            " FROM generate_series(1, 1001))")
    r = cluster.psql(database, f"SELECT pez.usage_store(1, 1, {many})", user=role, check=False)
    assert r.returncode != 0 and "at most 1000" in r.stderr, r
    for table in ("pez.usage_pages", "pez.usage_rounds"):
        r = cluster.psql(database, f"SELECT * FROM {table}", user=role, check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, r


def test_every_page_of_many_sequences_is_read(start_pezd, cluster, db):
    # pez.usage() answers 500 sequences a statement: 1200 more take three pages.
    pezd = start_pezd(FAST)
    owner = harness.OWNER_ROLE if harness.ROLES == "split" else "postgres"
    cluster.psql(db, "DO $$ BEGIN FOR i IN 1..1200 LOOP "
                     "EXECUTE format('CREATE SEQUENCE pez.%I', 'many-' || lpad(i::text, 4, '0')); END LOOP; END $$",
                 user=owner)
    assert pezd.pez("admin", "create", "zz-last", "--mode", "strict").returncode == 0
    measured(pezd, "zz-last")
    pezd.numbers("zz-last", 30)
    wait_until(lambda: inspect(pezd, "zz-last")["taken_1h"] == 30, 20, what="the last page to be read")
    body = pezd.get("/metrics").body
    assert len(re.findall(r"^pez_sequence_remaining\{", body, re.M)) == 1200 + 3
    assert inspect(pezd, "many-0777")["rate_1h"] == 0


def test_sequences_made_by_hand_outside_the_name_rule_are_left_out(start_pezd, cluster, db):
    # The catalog's reads and pez.usage check the rule as SQL (common/names.hpp): a name of 48
    # characters is served, listed and measured; one of 49, one in capitals and one that does
    # not start with a letter are none of these, on a daemon that finds them all at its start.
    start_pezd(FAST)  # the schema, migrated
    owner = harness.OWNER_ROLE if harness.ROLES == "split" else "postgres"
    longest, too_long = "l" * 48, "m" * 49
    outside = [too_long, "Upper", "_under", "9lives"]
    cluster.psql(db, "".join(f'CREATE SEQUENCE pez."{name}"; ' for name in [longest] + outside), user=owner)
    pezd = start_pezd(FAST)  # a second daemon, which finds them in its first read of the catalog
    assert pezd.numbers(longest, 2) == [1, 2]
    listed = [row["name"] for row in json.loads(pezd.pez("admin", "list", "--json").stdout)]
    assert longest in listed and not set(outside) & set(listed), listed
    measured(pezd, longest)
    body = pezd.get("/metrics").body
    assert f"pez_sequence_remaining{{{labels(longest)}}}" in body
    assert not [name for name in outside if f'"{name}"' in body]
    assert len(re.findall(r"^pez_sequence_remaining\{", body, re.M)) == 3  # forward, reverse, longest


def test_http_admin_answers_carry_the_forecast(start_pezd, workdir):
    token = "forecast-token-0123456789abcdef"
    path = os.path.join(workdir, "admin-token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    pezd = start_pezd(FAST + ["--admin-token-file", path])
    measured(pezd, "forward")
    auth = {"Authorization": f"Bearer {token}"}
    one = pezd.get("/admin/sequences/forward", headers=auth)
    assert one.status == 200, one
    listed = {s["name"]: s for s in pezd.get("/admin/sequences", headers=auth).json()}
    # As GET /openapi.json describes a sequence, measured as well as not yet.
    schema = pezd.get("/openapi.json").json()["components"]["schemas"]["Sequence"]
    for seen in (one.json(), listed["forward"]):
        assert seen["rate_1h"] is not None and seen["taken_1h"] is not None
        assert {"rate_1m", "taken_1m", "eta_seconds"} <= set(seen)
        jsonschema.validate(seen, schema)
    assert pezd.pez("admin", "create", "fresh", "--max", "10", "--no-cycle").returncode == 0
    pezd.numbers("fresh", 10)
    jsonschema.validate(pezd.get("/admin/sequences/fresh", headers=auth).json(), schema)


def test_a_new_period_counts_the_numbers_from_its_start(start_pezd, cluster, db):
    pezd = start_pezd(FAST)
    # pez.now() moved by a shift the test sets (as in test_formats.py), as the schema's owner.
    owner = harness.OWNER_ROLE if harness.ROLES == "split" else "postgres"
    cluster.psql(db, "CREATE TABLE public.pez_test_clock (shift interval NOT NULL);"
                     "GRANT SELECT ON public.pez_test_clock TO PUBLIC;"
                     "INSERT INTO public.pez_test_clock VALUES ('0');"
                     "CREATE OR REPLACE FUNCTION pez.now() RETURNS timestamptz LANGUAGE sql VOLATILE AS "
                     "$$ SELECT pg_catalog.clock_timestamp() + (SELECT shift FROM public.pez_test_clock) $$;",
                 user=owner)
    assert pezd.pez("admin", "create", "tickets", "--format", "T-{YYYY}{MM}{DD}-{n}", "--period", "daily",
                    "--max", "1000000", "--no-cycle", "--mode", "strict").returncode == 0
    measured(pezd, "tickets")
    assert len(pezd.numbers("tickets", 50)) == 50
    wait_until(lambda: inspect(pezd, "tickets")["taken_1h"] == 50, 20, what="the day's numbers to be counted")
    cluster.psql(db, "UPDATE public.pez_test_clock SET shift = interval '1 day'")
    assert pezd.numbers("tickets", 20)[0].endswith("-1")  # the counter started again
    seen = wait_until(lambda: (s := inspect(pezd, "tickets"))["taken_1h"] == 70 and s, 20,
                      what="the new day's numbers to be counted besides")
    assert seen["left"] == 1_000_000 - 20
    assert "wrapped" not in pezd.log_text()


def test_a_dropped_sequence_leaves_the_metrics(start_pezd):
    pezd = start_pezd(FAST)
    assert pezd.pez("admin", "create", "gone").returncode == 0
    measured(pezd, "gone")
    assert 'pez_sequence_remaining{sequence="gone"}' in pezd.get("/metrics").body
    assert pezd.pez("admin", "drop", "gone").returncode == 0
    wait_until(lambda: 'sequence="gone"' not in pezd.get("/metrics").body, 20, what="the dropped sequence to go")


def test_usage_interval_off_reads_nothing(start_pezd):
    pezd = start_pezd(["--usage-interval", "off"])
    pezd.numbers("forward", 5)
    seen = inspect(pezd, "forward")
    assert seen["rate_1m"] is None and seen["rate_1h"] is None and seen["eta_seconds"] is None
    assert seen["left"] > 0  # read when asked, as always
    body = pezd.get("/metrics").body
    # Every family is listed, without a sample.
    for family in ("pez_sequence_remaining", "pez_sequence_cycles", "pez_sequence_rate",
                   "pez_sequence_exhaustion_eta_seconds"):
        assert f"# TYPE {family} gauge" in body and f"{family}{{" not in body
    row = table(pezd.pez("admin", "list").stdout)["forward"]
    assert row["RATE"] == row["ETA"] == "-"


@pytest.mark.parametrize("bad", ["0", "50ms", "2h", "often", ""])
def test_a_bad_usage_interval_stops_pezd(workdir, bad):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_CONFIG"] = ""
    r = subprocess.run([PEZD, "--socket", os.path.join(workdir, "x.sock"), "--usage-interval", bad],
                       capture_output=True, text=True, env=env, timeout=10, stdin=subprocess.DEVNULL)
    assert r.returncode == 78 and "usage_interval" in r.stderr and "off" in r.stderr, r
