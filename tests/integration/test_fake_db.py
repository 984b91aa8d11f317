# SPDX-License-Identifier: Apache-2.0
"""The simulation's fake database (tests/sim/fake_db.cpp) held to the real SQL functions: one
random script of operations runs through the fake (pez-sim --script) and through PostgreSQL with
the schema of sql/, and every answer must be the same: numbers, blocks, generations, what is
left, the sequence's state, and the kind of every refusal. Periodic sequences too: the database's
clock (pez.now()) is moved by the script, on both sides, and their periods, the seconds left of
a period and the period entered must be the same."""

import json
import os
import random
import re
import subprocess

import pytest

import harness

PEZ_SIM = os.environ.get("PEZ_SIM", os.path.join(harness.BUILD, "tests", "pez-sim"))
SQL_DIR = os.environ.get("PEZ_SQL_DIR", os.path.join(harness.ROOT, "sql"))
MAX = harness.FORWARD_MAX
NAMES = ["alpha", "alpha", "beta", "beta", "c-d", "c-d", "forward", "reverse", "sequences", "nothing"]

# SQLSTATE to the kinds pezd's Store uses (daemon/db/db_error.cpp, then classify in db_answers.cpp).
KINDS = {"42P01": "not_found", "42809": "not_found", "3F000": "not_found", "2200H": "exhausted",
         "22023": "invalid", "42P07": "exists", "55006": "in_use"}


def shape(rng):
    kind = rng.randrange(5)
    if kind < 2:  # a small range
        lo = rng.randint(-20, 20)
        hi = lo + rng.randint(1, 30)
        step = rng.choice([1, rng.randint(1, hi - lo)])
    elif kind == 2:  # the whole range, a huge step
        lo, hi = 1, MAX
        step = rng.choice([2 ** 62, MAX - 1, MAX // 3, 2 ** 61 + 7, MAX // 2])
    elif kind == 3:  # the top of bigint
        hi = MAX
        lo = MAX - rng.randint(3, 200)
        step = rng.randint(1, 9)
    else:
        lo = rng.randint(1, 1000)
        hi = lo + rng.randint(1000, 10 ** 12)
        step = rng.randint(1, 1000)
    if rng.random() < 0.1:  # too large a step: refused
        step = min(hi - lo + rng.randint(1, 50), MAX)
    if rng.random() < 0.5:
        step = -step
    if rng.random() < 0.5:
        start = lo if step > 0 else hi
    else:
        k = rng.randint(0, max((hi - lo) // abs(step), 0))
        start = lo + k * abs(step) if step > 0 else hi - k * abs(step)
    if rng.random() < 0.05:
        start = hi + 1 if hi < MAX else lo - 1  # outside: refused
    return start, lo, hi, step, rng.choice([0, 1])


def script(seed, length=160):
    rng = random.Random(seed)
    lines = []
    for _ in range(length):
        name = rng.choice(NAMES)
        op = rng.choices(["create", "creates", "take", "takes", "reserve", "reserves", "reset", "drop", "left",
                          "state"], [14, 6, 24, 8, 22, 8, 10, 8, 6, 6])[0]
        if op == "create":
            lines.append("create %s %d %d %d %d %d" % ((name,) + shape(rng)))
        elif op == "creates":  # two in one statement, the same name twice sometimes
            lines.append("creates %s %s %d %d %d %d %d" % ((name, rng.choice(NAMES)) + shape(rng)))
        elif op == "take":
            lines.append(f"take {name} {rng.choice([1, 1, 2, 3, 5, 8, 13, 40, 0])}")
        elif op == "reserve":
            lines.append(f"reserve {name} {rng.choice([1, 2, 7, 50, 10 ** 6, MAX, 0])}")
        elif op == "reserves":  # several in one statement, sorted as pezd sends them
            names = sorted(set(rng.sample(NAMES, rng.randint(2, 4))))
            lines.append(f"reserves {rng.choice([1, 2, 7, 50, 10 ** 6])} {' '.join(names)}")
        elif op == "takes":
            names = sorted(set(rng.sample(NAMES, rng.randint(2, 4))))
            lines.append(f"takes {rng.choice([1, 1, 2, 3, 5, 40, 0])} {' '.join(names)}")
        elif op == "reset":
            to = rng.choice(["", "", str(rng.randint(-30, 40)), str(MAX - rng.randint(0, 300)), "1"])
            lines.append(f"reset {name} {to}".rstrip())
        else:
            lines.append(f"{op} {name}")
    return lines


# The formats the fake gives a periodic sequence of the script (tests/sim/script.cpp).
FORMATS = {"yearly": "Y{YYYY}-{n}", "monthly": "M{YYYY}{MM}-{n}", "daily": "D{YYYY}{MM}{DD}-{n}"}
# Time zones the fake knows: UTC and fixed offsets (Etc/GMT-14 is 14 hours ahead of UTC).
ZONES = ["UTC", "Etc/GMT-14", "Etc/GMT+11", "Etc/GMT-5"]
PERIOD = "coalesce(to_char({}, 'YYYYMMDD'), '0')"


def sql_of(line):
    words = line.split()
    op, name = words[0], words[1]
    seq = f"'pez.\"{name}\"'"
    if op == "create":
        start, lo, hi, step, cycle = words[2:7]
        period = ""
        if len(words) > 7:
            period = f", format => '{FORMATS.get(words[7], FORMATS['daily'])}', period => '{words[7]}'"
            period += f", time_zone => '{words[8]}'" if len(words) > 8 else ""
        return (f"SELECT pez.create_sequence('{name}', {start}, {lo}, {hi}, {step}, "
                f"{'true' if cycle == '1' else 'false'}{period})")
    if op == "creates":
        start, lo, hi, step, cycle = words[3:8]
        args = [[n, start, lo, hi, step, "true" if cycle == "1" else "false", None, "", None, None, None, None]
                for n in words[1:3]]
        return f"SELECT generation, error_code FROM pez.create_sequences('{json.dumps(args)}')"
    if op == "clock":
        return f"UPDATE public.pez_test_clock SET shift = interval '{name} seconds'"
    if op == "take_dated":
        return (f"SELECT {PERIOD.format('period')} || ' ' || array_to_string(numbers, ' ') "
                f"FROM pez.take_dated({seq}, {words[2]})")
    if op == "reserve_dated":
        return (f"SELECT first_value, last_value, increment, generation, {PERIOD.format('period')}, "
                f"coalesce(round(valid_for::numeric, 3)::text, '-') FROM pez.reserve_dated({seq}, {words[2]})")
    if op == "period":
        return f"SELECT {PERIOD.format('current_period')} FROM pez.sequences WHERE name = '{name}'"
    if op == "reserves":  # reserves N NAME...: pez.reserve_many, a row each
        names = ",".join(f"'{n}'" for n in words[2:])
        counts = ",".join(words[1] for _ in words[2:])
        return ("SELECT coalesce(first_value || ':' || last_value || ':' || increment || ':' || generation, "
                f"'error:' || error_code) FROM pez.reserve_many(ARRAY[{names}]::text[], ARRAY[{counts}]::bigint[])")
    if op == "takes":  # takes N NAME...: pez.take_many, a row each
        names = ",".join(f"'{n}'" for n in words[2:])
        counts = ",".join(words[1] for _ in words[2:])
        return (f"SELECT coalesce({PERIOD.format('period')} || ':' || array_to_string(numbers, ','), "
                f"'error:' || error_code) FROM pez.take_many(ARRAY[{names}]::text[], ARRAY[{counts}]::integer[])")
    if op == "take":
        return f"SELECT pez.take({seq}, {words[2]})"
    if op == "reserve":
        return f"SELECT first_value, last_value, increment, generation FROM pez.reserve({seq}, {words[2]})"
    if op == "reset":
        return f"SELECT pez.reset_sequence('{name}'{', ' + words[2] if len(words) > 2 else ''})"
    if op == "drop":
        return f"SELECT pez.drop_sequence('{name}')"
    if op == "left":
        return f"SELECT pez.numbers_left({seq})"
    return ("SELECT s.last_value, s.is_called FROM pez.sequence_state("
            f"(SELECT relname::text FROM pg_class WHERE oid = pez.sequence_of('{name}'))) s")


MARK = "@@answer"


def script_for_psql(lines):
    """The script as one psql input: each operation's statement, then a line with MARK and the
    SQLSTATE it ended with (00000 for success). An aborted operation runs in a transaction that
    rolls back, and its mark carries the operation's own SQLSTATE, not the rollback's."""
    out = []
    for line in lines:
        if line.split()[0] == "abort":
            out += ["BEGIN;", sql_of(line.split(None, 1)[1]) + ";", "\\set op_state :SQLSTATE", "ROLLBACK;",
                    f"\\echo {MARK} :op_state"]
        else:
            out += [sql_of(line) + ";", f"\\echo {MARK} :SQLSTATE"]
    return "\n".join(out) + "\n"


def run_postgres(cluster, db, lines):
    """Runs the script's operations in order in one session of psql (a process each took most of
    the test's time); answers each operation's answer, written as the fake writes it."""
    result = subprocess.run([os.path.join(harness.PG_BIN, "psql"), "-X", "-h", cluster.dir, "-U", "postgres", "-d", db,
                             "-v", "ON_ERROR_STOP=0", "-AtqF", " ", "-f", "-"], input=script_for_psql(lines),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"psql failed: {result.stderr}"
    answers, rows = [], []
    for out in result.stdout.split("\n"):
        if out.startswith(MARK + " "):
            answers.append(answer_of(lines[len(answers)], out[len(MARK) + 1:], rows, result.stderr))
            rows = []
        elif out != "":
            rows.append(out)
    assert len(answers) == len(lines), f"psql answered {len(answers)} of {len(lines)} operations: {result.stderr}"
    return answers


def answer_of(line, sqlstate, rows, errors):
    op = line.split()[0]
    if op == "abort":
        op = line.split()[1]
    if sqlstate != "00000":
        assert re.fullmatch(r"[0-9A-Z]{5}", sqlstate), f"{line}: psql failed without an SQLSTATE: {errors}"
        return "error " + KINDS.get(sqlstate, "other")
    if op in ("drop", "clock"):
        return "ok"
    if op == "period" and not rows:
        return "error not_found"
    if op == "take":
        return " ".join(["ok"] + rows)
    if op in ("reserves", "takes"):
        return " ".join(["ok"] + [r if not r.startswith("error:") else "error:" + KINDS.get(r[6:], "other")
                                  for r in rows])
    if op == "creates":  # a row each: the generation, or no generation and the SQLSTATE
        return " ".join(["ok"] + [r.split()[0] if not r.startswith(" ") else
                                  "error:" + KINDS.get(r.split()[0], "other") for r in rows])
    return "ok " + rows[0]


def fresh_database(cluster):
    """A database with the migrations of sql/ (generations count from the same place as the
    fake's) and pez.now() replaced by 2030-01-01 00:00 UTC moved by the shift in
    public.pez_test_clock, which the script's clock operation sets."""
    db = cluster.create_database()
    for path in sorted(os.listdir(SQL_DIR)):
        if re.fullmatch(r"\d{3}_.*\.sql", path):  # the migrations, not grants.sql
            cluster.psql(db, open(os.path.join(SQL_DIR, path)).read())
    cluster.psql(db, "CREATE TABLE public.pez_test_clock (shift interval NOT NULL);"
                     "INSERT INTO public.pez_test_clock VALUES ('0');"
                     "CREATE OR REPLACE FUNCTION pez.now() RETURNS timestamptz LANGUAGE sql VOLATILE AS "
                     "$$ SELECT '2030-01-01 00:00:00+00'::timestamptz + (SELECT shift FROM public.pez_test_clock) $$;")
    return db


def run_both(cluster, lines, what):
    """Runs the script through the fake and through PostgreSQL; answers the kinds of answer seen
    (the refusals' kinds and the operations that succeeded) and the answers, alike on both sides."""
    assert os.access(PEZ_SIM, os.X_OK), f"pez-sim is not built at {PEZ_SIM}: build first or set PEZ_SIM"
    db = fresh_database(cluster)
    fake = subprocess.run([PEZ_SIM, "--script", "-"], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=60, check=True).stdout.split("\n")
    kinds = set()
    for i, (line, real) in enumerate(zip(lines, run_postgres(cluster, db, lines))):
        kinds.add(real.split()[1] if real.startswith("error") else line.split()[0])
        assert fake[i] == real, (f"{what}, operation {i + 1}: {line}\n  PostgreSQL: {real}\n"
                                 f"  fake:       {fake[i]}")
    return kinds, fake[:len(lines)]


@pytest.mark.strict_only  # no pezd: once is enough
def test_the_fake_answers_as_postgresql_does(cluster):
    kinds = set()
    mixed = 0  # creates in one statement of which one was made and the other refused
    reserved_beside_a_refusal = 0  # reserves in one statement of which one got a block and another not
    taken_beside_a_refusal = 0  # takes in one statement of which one got numbers and another not
    for seed in range(1, 7):
        lines = script(seed)
        seen, answers = run_both(cluster, lines, f"seed {seed}")
        kinds |= seen
        mixed += sum(1 for line, answer in zip(lines, answers)
                     if line.startswith("creates ") and "error:" in answer and re.search(r" \d", answer))
        reserved_beside_a_refusal += sum(1 for line, answer in zip(lines, answers)
                                         if line.startswith("reserves ") and "error:" in answer
                                         and re.search(r" -?\d+:", answer))
        taken_beside_a_refusal += sum(1 for line, answer in zip(lines, answers)
                                      if line.startswith("takes ") and "error:" in answer
                                      and re.search(r" \d+:-?\d", answer))
    # The scripts reached the corners they are for.
    assert {"exhausted", "invalid", "exists", "in_use", "not_found", "take", "reserve", "reset", "left",
            "state", "creates", "reserves", "takes"} <= kinds, kinds
    assert mixed > 0 and reserved_beside_a_refusal > 0 and taken_beside_a_refusal > 0


# --- periodic sequences ----------------------------------------------------------------------

DAY = 86400

# A daily counter from 5 to 10 without cycle, through new days, a take a new day cannot serve,
# its clock going back, and a reset: every answer as PostgreSQL gives it.
PERIODIC_SCENARIO = [
    "clock 0",
    "create p 5 1 10 1 0 daily",
    "period p",
    "take_dated p 3",            # 20300101: 5 6 7
    "reserve_dated p 2",         # 8 9, a whole day left
    "clock 3600",
    "reserve_dated p 5",         # 10 alone, 23 hours left
    "take_dated p 1",            # ran out for the day
    "left p",
    f"clock {DAY + 60}",         # the next day: nobody has entered it yet
    "period p",
    "left p",
    "take p 2",                  # enters 20300102: 5 6
    "period p",
    f"clock {2 * DAY + 10}",     # the third day: a take it cannot serve is refused, and changes nothing
    "take_dated p 20",
    "period p",
    "state p",
    f"clock {DAY + 7200}",       # the clock goes back into the second day, which goes on
    "take_dated p 2",
    "reserve_dated p 1",
    "period p",
    f"clock {2 * DAY + 20}",
    "take_dated p 1",            # the third day, from 5
    "reset p 2",                 # it goes on from 2
    "take_dated p 1",
    "state p",
    f"clock {DAY}",              # back again: the third day stays, its time left counted from its start
    "reserve_dated p 2",
    "take_dated p 7",
    "state p",
    # A cycling monthly counter 14 hours ahead of UTC, and a yearly one 11 hours behind.
    "create m 1 1 3 1 1 monthly Etc/GMT-14",
    "take_dated m 2",
    "reserve_dated m 5",
    "take_dated m 4",            # more than a pass: refused, the month is not entered
    f"clock {31 * DAY - 14 * 3600}",
    "take_dated m 4",
    "period m",
    "reserve_dated m 2",
    "create y 100 1 1000 -7 0 yearly Etc/GMT+11",
    "reserve_dated y 3",
    f"clock {365 * DAY + 11 * 3600 - 1}",
    "reserve_dated y 1",
    f"clock {365 * DAY + 11 * 3600}",
    "reserve_dated y 1",
    "period y",
    "create bad 1 1 10 1 0 weekly",
    "create bad 1 1 10 1 0 daily Mars/Olympus",
    "create bad 1 -1 10 1 0 daily",
    "period nothing",
]

# Before 2030, in a database of its own (a clock that goes back does not go behind the start of a
# period some take entered anew, sql/011: the scenario above entered 2031).
BEFORE_2030 = [
    f"clock {-40 * DAY}",
    "create q 1 1 10 1 0 monthly Etc/GMT+11",
    "take_dated q 1",
    "reserve_dated q 2",
    f"clock {-DAY}",
    "create r 1 1 10 1 0 yearly",
    "reserve_dated r 2",
    "take_dated q 1",
]

# A take that enters a new day rolls back (a connection cut before the commit), and the clock
# goes back into the day before: that day must not go on from the counter the rollback left
# started again, or its first numbers would be handed out twice.
ROLLBACK_SCENARIO = [
    "clock 0",
    "create c 1 1 1000 1 0 daily",
    "take_dated c 5",
    f"clock {DAY + 10}",
    "abort take_dated c 3",      # enters 20300102 (1 2 3), rolled back
    "period c",                  # the period entered is undone ...
    "state c",                   # ... the counter started again is not
    "clock 3600",                # back in the first day
    "take_dated c 3",
    "period c",
    "abort reserve_dated c 2",   # within the second day: nothing to undo but the numbers
    "reserve_dated c 2",
    f"clock {2 * DAY + 1}",
    "create d 1 1 1000 1 0 daily",
    "take_dated d 2",            # the third day
    "abort reserve_dated c 4",   # c enters it, rolled back
    f"clock {DAY + 60}",         # back in the second day
    "reserve_dated c 1",
    "take_dated d 1",
]


def periodic_script(seed, length=160):
    rng = random.Random(seed)
    lines = []
    now = rng.randint(-1000, 400) * 3600  # from late 2029 on
    names = ["pa", "pa", "pb", "pb", "pc", "forward", "nothing"]
    for _ in range(length):
        name = rng.choice(names)
        op = rng.choices(["create", "take", "take_dated", "takes", "reserve", "reserve_dated", "reset", "drop", "left",
                          "state", "period", "clock", "abort"], [14, 8, 14, 6, 6, 18, 6, 4, 4, 4, 6, 14, 8])[0]
        if op == "create":
            start, lo, hi, step, cycle = shape(rng)
            period = rng.choice(["daily", "daily", "monthly", "yearly"])
            zone = rng.choice(["", ""] + ZONES)
            lines.append(f"create {name} {start} {lo} {hi} {step} {cycle} {period} {zone}".rstrip())
        elif op == "abort":
            what = rng.choice(["take_dated", "reserve_dated", "takes"])
            if what == "takes":
                lines.append(f"abort takes {rng.choice([1, 2, 5, 40])} {' '.join(sorted(set(rng.sample(names, 3))))}")
            else:
                lines.append(f"abort {what} {name} {rng.choice([1, 2, 5, 40])}")
        elif op == "takes":  # several in one statement, sorted as pezd sends them
            lines.append(f"takes {rng.choice([1, 2, 5, 40])} {' '.join(sorted(set(rng.sample(names, 3))))}")
        elif op in ("take", "take_dated"):
            lines.append(f"{op} {name} {rng.choice([1, 1, 2, 3, 5, 8, 13, 40])}")
        elif op in ("reserve", "reserve_dated"):
            lines.append(f"{op} {name} {rng.choice([1, 2, 7, 50, 10 ** 6])}")
        elif op == "reset":
            lines.append(f"reset {name} {rng.choice(['', '', str(rng.randint(-30, 40)), '1'])}".rstrip())
        elif op == "clock":
            now += rng.choice([1, 3600, 6 * 3600, DAY, DAY, 3 * DAY, 31 * DAY, 200 * DAY, 366 * DAY, -3600, -DAY,
                               -40 * DAY])
            lines.append(f"clock {now}")
        else:
            lines.append(f"{op} {name}")
    return lines


@pytest.mark.strict_only  # no pezd: once is enough
def test_the_fake_keeps_periods_as_postgresql_does(cluster):
    kinds, answers = run_both(cluster, PERIODIC_SCENARIO, "the scenario")
    assert {"exhausted", "invalid", "take_dated", "reserve_dated", "reset", "period", "clock"} <= kinds, kinds

    def after(line, k):
        return answers[PERIODIC_SCENARIO.index(line) + k]
    # A take refused in a new period leaves the counter and the period entered as they were
    # (setval is not undone with the refusal: the function puts it back), so when the clock goes
    # back into the second day, that day goes on and none of its numbers comes again.
    assert after(f"clock {2 * DAY + 10}", 1) == "error exhausted"
    assert after(f"clock {2 * DAY + 10}", 2) == "ok 20300102"
    assert after(f"clock {2 * DAY + 10}", 3) == "ok 6 t"
    assert after(f"clock {DAY + 7200}", 1) == "ok 20300102 7 8"
    # More than a pass of a cycling monthly counter: refused, without entering the new month.
    assert after("create m 1 1 3 1 1 monthly Etc/GMT-14", 5) == "error invalid"
    assert after("create m 1 1 3 1 1 monthly Etc/GMT-14", 6) == "ok 20300101"
    assert after("create m 1 1 3 1 1 monthly Etc/GMT-14", 7).startswith("ok 1 2 1 6 20300201 ")
    before = run_both(cluster, BEFORE_2030, "before 2030")[1]
    assert before[2] == "ok 20291101 1" and before[6].startswith("ok 1 2 1 ") and " 20290101 " in before[6]
    assert before[7] == "ok 20291201 1"  # the clock moved on into December: from the start again
    for seed in range(1, 5):
        kinds |= run_both(cluster, periodic_script(seed), f"periodic seed {seed}")[0]
    assert {"exhausted", "invalid", "exists", "not_found", "take", "takes", "reserve", "state", "abort"} <= kinds, kinds


@pytest.mark.strict_only  # no pezd: once is enough
def test_a_new_period_that_rolled_back_keeps_the_period_before_closed(cluster):
    kinds, answers = run_both(cluster, ROLLBACK_SCENARIO, "the rollback scenario")

    def after(line, k=1):
        return answers[ROLLBACK_SCENARIO.index(line) + k]
    assert after("take_dated c 5", 0) == "ok 20300101 1 2 3 4 5"
    assert after("abort take_dated c 3", 0) == "ok 20300102 1 2 3"
    assert after("abort take_dated c 3") == "ok 20300101"
    assert after("abort take_dated c 3", 2) == "ok 3 t"
    # With the clock in the first day again, the take is in the second day, from its start again
    # (the rolled-back take's numbers were never handed out); the first day's 1 to 5 do not come back.
    assert after("clock 3600") == "ok 20300102 1 2 3"
    assert after("clock 3600", 2) == "ok 20300102"
    assert after("abort reserve_dated c 2", 0).startswith("ok 4 5 1 ")
    assert after("abort reserve_dated c 2", 1).startswith("ok 6 7 1 ")  # numbers are not given back
    # A reserve that entered the third day rolled back; back in the second day, the third goes on:
    # the second day's numbers (1 to 7) do not come back, and another sequence of the same
    # clock is in the third day too.
    assert after("abort reserve_dated c 4", 0).startswith("ok 1 4 1 ") and " 20300103 " in after("abort reserve_dated c 4", 0)
    assert after(f"clock {DAY + 60}").startswith("ok 1 1 1 ") and " 20300103 " in after(f"clock {DAY + 60}")
    assert after(f"clock {DAY + 60}", 2) == "ok 20300103 3"
