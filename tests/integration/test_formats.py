# SPDX-License-Identifier: Apache-2.0
"""Formatted and periodic sequences (DESIGN §2, §5): numbers printed through a template as strings
over HTTP, the socket and pez; templates that could print two numbers alike refused; check
characters checked by pez check and CHECK without the database; counters that start again each
period, judged by the database's clock (moved by replacing pez.now()), crossed under load by two
daemons with no string given twice and none dated in the wrong period."""

import json
import re
import threading
import time

import pytest

from harness import MODE, assert_one_error_line


def admin_json(pezd, *args):
    r = pezd.pez("admin", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --- formats ---------------------------------------------------------------------------------

def test_formatted_numbers_are_strings_everywhere(pezd):
    created = admin_json(pezd, "create", "invoices", "--format", "INV-{n:06}", "--max", "999999", "--no-cycle")
    assert created["format"] == "INV-{n:06}" and created["example"] == "INV-000001"
    assert created["next_printed"] == "INV-000001"

    assert pezd.pez("next", "invoices", "-n", "2").stdout == "INV-000001\nINV-000002\n"
    r = pezd.get("/v1/invoices")
    assert r.status == 200 and r.body == '"INV-000003"\n' and r.headers["content-type"] == "application/json"
    assert pezd.get("/v1/invoices?as=string").body == '"INV-000004"\n'
    assert pezd.numbers("invoices", 2) == ["INV-000005", "INV-000006"]
    assert pezd.get("/v2/invoices?2&as=string").json() == ["INV-000007", "INV-000008"]
    assert pezd.lines().ask("NEXT invoices 2") == "OK INV-000009 INV-000010"
    assert pezd.lines().ask("NEXT invoices 1 json") == 'OK ["INV-000011"]'
    assert json.loads(pezd.pez("next", "invoices", "-n", "2", "--json").stdout) == ["INV-000012", "INV-000013"]

    # forward and reverse stay bare numbers; --json of a bare sequence stays a list of numbers.
    assert isinstance(pezd.numbers("forward", 1)[0], int)
    assert all(isinstance(v, int) for v in json.loads(pezd.pez("forward", "-n", "2", "--json").stdout))
    assert re.fullmatch(r"OK \d+", pezd.lines().ask("NEXT reverse"))

    seen = admin_json(pezd, "inspect", "invoices")
    # (In block mode the sequence is already past the block this pezd reserved.)
    assert seen["format"] == "INV-{n:06}" and seen["next_printed"] == f"INV-{seen['next']:06}"
    assert MODE == "block" or seen["next"] == 14
    human = pezd.pez("admin", "inspect", "invoices").stdout
    assert "INV-{n:06}" in human and "INV-000001" in human
    assert admin_json(pezd, "inspect", "forward")["format"] is None


def test_padding_never_truncates(pezd):
    admin_json(pezd, "create", "short", "--format", "T{n:02}", "--start", "98", "--max", "100", "--no-cycle")
    assert pezd.numbers("short", 3) == ["T98", "T99", "T100"]


@pytest.mark.parametrize("args, complaint", [
    (["--format", "INV"], "no {n}"),
    (["--format", "{n}-{n}"], "{n} twice"),
    (["--format", "INV-{n:06}", "--period", "yearly"], "{YYYY}"),
    (["--format", "INV-{YYYY}-{n:06}"], "period"),
    (["--format", "INV {n}"], "literals"),
    (["--format", "INV-{n:06}", "--check", "luhn"], "{check}"),
    (["--period", "monthly"], "format"),
    (["--format", "INV-{YYYY}-{n}", "--period", "weekly"], "yearly"),
])
def test_templates_that_could_print_two_numbers_alike_are_refused(pezd, args, complaint):
    r = pezd.pez("admin", "create", "bad", *args)
    assert_one_error_line(r, 64, complaint)
    body = {"name": "bad"}
    keys = {"--format": "format", "--period": "period", "--check": "check"}
    for flag, value in zip(args[::2], args[1::2]):
        body[keys[flag]] = value
    answer = pezd.lines().ask("CREATE " + json.dumps(body))
    assert answer.startswith("ERR bad-request ") and complaint in answer, answer
    assert pezd.get("/v1/bad").status == 404


def test_an_unknown_time_zone_is_refused_by_the_database(pezd):
    r = pezd.pez("admin", "create", "zoned", "--format", "Z-{YYYY}-{n:04}", "--max", "9999", "--period", "yearly",
                 "--timezone", "Mars/Olympus_Mons")
    assert_one_error_line(r, 64, "Mars/Olympus_Mons")


# --- check characters -------------------------------------------------------------------------

def test_check_characters_are_right_and_pez_check_tells_a_mistyped_number(pezd):
    admin_json(pezd, "create", "tickets", "--format", "T-{n:06}-{check}", "--max", "999999", "--check", "luhn")
    values = pezd.numbers("tickets", 5)
    for v in values:
        digits = v.replace("T-", "").replace("-", "")
        assert luhn_ok(digits), v
        assert pezd.pez("check", "tickets", v).returncode == 0
        assert pezd.lines().ask(f"CHECK tickets {v}") == "OK valid"
    good = values[0]
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    r = pezd.pez("check", "tickets", wrong)
    assert_one_error_line(r, 1, "check digit")
    assert pezd.pez("check", "-q", "tickets", wrong).stderr == ""
    assert pezd.lines().ask(f"CHECK tickets {wrong}").startswith("OK invalid: ")
    swapped = good[:2] + good[3] + good[2] + good[4:]
    if swapped != good:
        assert pezd.pez("check", "tickets", swapped).returncode == 1
    # Nothing that is not a rendering, whatever it holds.
    for value in ["", "T-000001", "x" * 300, "T-00000a-3", "T 000001-8"]:
        assert pezd.pez("check", "-q", "tickets", value).returncode == 1, value
    # A sequence without format has nothing to check: a usage error, not "invalid".
    assert_one_error_line(pezd.pez("check", "forward", "12"), 64, "no format")
    assert_one_error_line(pezd.pez("check", "nosuch", "12"), 1, "no sequence named")


@pytest.mark.parametrize("algorithm, width", [("damm", 1), ("mod97", 2)])
def test_damm_and_mod97_check_characters(pezd, algorithm, width):
    admin_json(pezd, "create", "refs", "--format", "{n:08}{check}", "--max", "99999999", "--check", algorithm)
    values = pezd.numbers("refs", 3)
    assert all(len(v) == 8 + width for v in values)
    for v in values:
        assert pezd.pez("check", "refs", v).returncode == 0
        # Every single-digit error is caught.
        for i in range(len(v)):
            for d in "0123456789":
                if d != v[i]:
                    assert pezd.lines().ask(f"CHECK refs {v[:i] + d + v[i + 1:]}").startswith("OK invalid"), (v, i, d)


# --- periods ---------------------------------------------------------------------------------

def install_clock(cluster, db):
    """Makes pez.now() the real clock moved by the offset in table pez_test_clock (as its owner)."""
    cluster.psql(db, "CREATE TABLE IF NOT EXISTS public.pez_test_clock (shift interval NOT NULL);"
                     "GRANT SELECT ON public.pez_test_clock TO PUBLIC;"
                     "DELETE FROM public.pez_test_clock; INSERT INTO public.pez_test_clock VALUES ('0');"
                     "CREATE OR REPLACE FUNCTION pez.now() RETURNS timestamptz LANGUAGE sql VOLATILE AS "
                     "$$ SELECT pg_catalog.clock_timestamp() + (SELECT shift FROM public.pez_test_clock) $$;")


def set_clock_before_year_end(cluster, db, zone, seconds):
    """Moves the database's now to `seconds` before the next new year in zone; answers the real
    (epoch) time at which that new year comes, and the year now. The shift and the time answered
    come from one reading of the clock (a CTE with a volatile function is evaluated once): two
    readings lie apart by however long the statement was held up between them, and the new year
    would come that much before the time answered."""
    out = cluster.psql(db, f"""
        WITH c AS (SELECT clock_timestamp() AS t),
             b AS (SELECT (date_trunc('year', now() AT TIME ZONE '{zone}') + interval '1 year')
                          AT TIME ZONE '{zone}' AS boundary)
        UPDATE public.pez_test_clock SET shift = (SELECT boundary FROM b) - (SELECT t FROM c)
                                                 - interval '{seconds} seconds'
        RETURNING extract(epoch FROM (SELECT t FROM c) + interval '{seconds} seconds'),
                  extract(year FROM now() AT TIME ZONE '{zone}')""")
    boundary, year = out.strip().split("|")
    return float(boundary), int(float(year))


def test_a_periodic_sequence_crosses_new_year_under_load(cluster, db, start_pezd):
    a = start_pezd()
    install_clock(cluster, db)
    b = start_pezd()
    boundary, year = set_clock_before_year_end(cluster, db, "Europe/Berlin", 2.5)
    admin_json(a, "create", "invoices", "--format", "INV-{YYYY}-{n:06}", "--max", "999999", "--no-cycle",
               "--period", "yearly", "--timezone", "Europe/Berlin")
    seen = admin_json(a, "inspect", "invoices")
    assert seen["period"] == "yearly" and seen["time_zone"] == "Europe/Berlin"
    assert seen["current_period"] == f"{year}-01-01"

    answers = []  # (sent, received, strings)
    lock = threading.Lock()
    failures = []

    def load(daemon):
        end = boundary + 2.5
        while time.time() < end:
            sent = time.time()
            r = daemon.get("/v2/invoices?count=3")
            received = time.time()
            if r.status != 200:
                failures.append(r)
                continue
            with lock:
                answers.append((sent, received, r.json()))

    threads = [threading.Thread(target=load, args=(d,)) for d in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]

    strings = [s for _, _, batch in answers for s in batch]
    assert len(strings) == len(set(strings)), "a string was given twice"
    by_year = {year: [], year + 1: []}
    for sent, received, batch in answers:
        for s in batch:
            m = re.fullmatch(r"INV-(\d{4})-(\d{6})", s)
            assert m, s
            y, n = int(m.group(1)), int(m.group(2))
            assert y in by_year, s
            by_year[y].append(n)
            # Dated in its period: the old year's numbers were handed out before the new year
            # came (their request was sent before it), the new year's after it.
            if y == year:
                assert sent < boundary, (s, sent - boundary)
            else:
                assert received > boundary, (s, received - boundary)
    assert by_year[year] and by_year[year + 1], {y: len(v) for y, v in by_year.items()}
    # The counter started again: the new year's first number is the start.
    assert min(by_year[year + 1]) == 1
    assert min(by_year[year]) == 1
    # The counter starting again is a new period, not a wrap: no daemon warns of one.
    assert "entered a new period" in a.log_text() + b.log_text()
    for d in (a, b):
        assert "wrapped" not in d.log_text(), d.log_text()

    # A reset starts the current period again, and only it. (The other daemon is stopped first:
    # in block mode it could reserve the numbers after the reset before this one asks.)
    assert b.stop() == 0
    admin_json(a, "reset", "invoices")
    assert a.pez("next", "invoices").stdout == f"INV-{year + 1}-000001\n"
    assert admin_json(a, "inspect", "invoices")["current_period"] == f"{year + 1}-01-01"


def test_daily_period_follows_the_time_zone_of_the_database_clock(cluster, db, pezd):
    install_clock(cluster, db)
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"):
        name = "d-" + zone.split("/")[-1].lower().replace("_", "-")
        admin_json(pezd, "create", name, "--format", "{YYYY}{MM}{DD}-{n:04}", "--max", "9999", "--period", "daily",
                   "--timezone", zone)
        day = f"SELECT to_char(now() AT TIME ZONE '{zone}', 'YYYYMMDD')"
        before = cluster.psql(db, day).strip()
        value = pezd.numbers(name, 1)[0]
        after = cluster.psql(db, day).strip()
        # (Around midnight in that zone the day may move on between the reads.)
        assert value in (f"{before}-0001", f"{after}-0001"), (value, before, after)


def test_periodic_sequence_that_ran_out_serves_again_next_period(cluster, db, pezd):
    install_clock(cluster, db)
    admin_json(pezd, "create", "few", "--format", "F{YYYY}{MM}-{n}", "--max", "3", "--no-cycle", "--period", "monthly")
    assert len(pezd.numbers("few", 3)) == 3
    r = pezd.get("/v1/few")
    assert r.status == 409, r
    # Next month, by the database's clock: the counter starts again.
    cluster.psql(db, "UPDATE public.pez_test_clock SET shift = interval '32 days'")
    got = None

    def served():
        nonlocal got
        r = pezd.get("/v1/few")
        got = r
        return r.status == 200
    from harness import wait_until
    wait_until(served, 10, what="numbers again in the next month")
    assert got.json().endswith("-1"), got.json()
