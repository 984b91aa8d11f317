"""The simulation's fake database (tests/sim/fake_db.cpp) held to the real SQL functions: one
random script of operations runs through the fake (pez-sim --script) and through PostgreSQL with
the schema of sql/, and every answer must be the same: numbers, blocks, generations, what is
left, the sequence's state, and the kind of every refusal."""

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

# SQLSTATE to the kinds pezd's Store uses (daemon/database.cpp, classify).
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
        op = rng.choices(["create", "take", "reserve", "reset", "drop", "left", "state"],
                         [18, 30, 22, 10, 8, 6, 6])[0]
        if op == "create":
            lines.append("create %s %d %d %d %d %d" % ((name,) + shape(rng)))
        elif op == "take":
            lines.append(f"take {name} {rng.choice([1, 1, 2, 3, 5, 8, 13, 40, 0])}")
        elif op == "reserve":
            lines.append(f"reserve {name} {rng.choice([1, 2, 7, 50, 10 ** 6, MAX, 0])}")
        elif op == "reset":
            to = rng.choice(["", "", str(rng.randint(-30, 40)), str(MAX - rng.randint(0, 300)), "1"])
            lines.append(f"reset {name} {to}".rstrip())
        else:
            lines.append(f"{op} {name}")
    return lines


def sql_of(line):
    words = line.split()
    op, name = words[0], words[1]
    seq = f"'pez.\"{name}\"'"
    if op == "create":
        start, lo, hi, step, cycle = words[2:]
        return (f"SELECT pez.create_sequence('{name}', {start}, {lo}, {hi}, {step}, "
                f"{'true' if cycle == '1' else 'false'})")
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


def run_postgres(cluster, db, line):
    result = subprocess.run([os.path.join(harness.PG_BIN, "psql"), "-h", cluster.dir, "-U", "postgres", "-d", db,
                             "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-AtqF", " ", "-c", sql_of(line)],
                            capture_output=True, text=True, timeout=60)
    op = line.split()[0]
    if result.returncode != 0:
        match = re.search(r"ERROR:\s+([0-9A-Z]{5}):", result.stderr)
        assert match, f"{line}: psql failed without an SQLSTATE: {result.stderr}"
        return "error " + KINDS.get(match.group(1), "other")
    rows = [r for r in result.stdout.split("\n") if r != ""]
    if op == "drop":
        return "ok"
    if op == "take":
        return " ".join(["ok"] + rows)
    return "ok " + rows[0]


@pytest.mark.strict_only  # no pezd: once is enough
def test_the_fake_answers_as_postgresql_does(cluster):
    assert os.access(PEZ_SIM, os.X_OK), f"pez-sim is not built at {PEZ_SIM}: build first or set PEZ_SIM"
    kinds = set()
    for seed in range(1, 7):
        db = cluster.create_database()  # a fresh schema: generations count from the same place
        for path in sorted(os.listdir(SQL_DIR)):
            if re.fullmatch(r"\d{3}_.*\.sql", path):  # the migrations, not grants.sql
                cluster.psql(db, open(os.path.join(SQL_DIR, path)).read())
        lines = script(seed)
        fake = subprocess.run([PEZ_SIM, "--script", "-"], input="\n".join(lines) + "\n", capture_output=True,
                              text=True, timeout=60, check=True).stdout.split("\n")
        for i, line in enumerate(lines):
            real = run_postgres(cluster, db, line)
            kinds.add(real.split()[1] if real.startswith("error") else line.split()[0])
            assert fake[i] == real, (f"seed {seed}, operation {i + 1}: {line}\n  PostgreSQL: {real}\n"
                                     f"  fake:       {fake[i]}")
    # The scripts reached the corners they are for.
    assert {"exhausted", "invalid", "exists", "in_use", "not_found", "take", "reserve", "reset", "left",
            "state"} <= kinds, kinds
