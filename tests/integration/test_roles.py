# SPDX-License-Identifier: Apache-2.0
"""Least privilege: pezd migrate as a role that is no superuser and owns the database; pezd as a role
with only the rights of sql/grants.sql (CTest's integration_least_privilege runs the basics so);
and a role that lacks a right is told which one, not handed a raw SQL error."""

import json
import os
import subprocess
import time

import pytest

import harness
from harness import wait_until

pytestmark = pytest.mark.strict_only  # roles and schema, the same in both modes


def migrate(cluster, database, role, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_") and not k.startswith("PG")}
    env.update(PEZ_CONFIG="", PGHOST=cluster.dir, PGPORT=str(cluster.port), PGUSER=role, PGDATABASE=database)
    return subprocess.Popen([harness.PEZD, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def roles(cluster, *names):
    for name in names:
        cluster.psql("postgres", f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') "
                                 f"THEN CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$")


def test_pezd_migrate_as_an_owner_that_is_no_superuser_twice_and_at_once(cluster):
    roles(cluster, harness.OWNER_ROLE)
    database = cluster.create_database(owner=harness.OWNER_ROLE)
    both = [migrate(cluster, database, harness.OWNER_ROLE) for _ in range(2)]
    answers = [p.communicate(timeout=60) + (p.returncode,) for p in both]
    for out, err, code in answers:
        assert code == 0, (out, err)
        assert "schema pez is at version" in out, out
    again = migrate(cluster, database, harness.OWNER_ROLE)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0 and "already" in out, (out, err)
    assert cluster.psql(database, "SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_namespace "
                                  "WHERE nspname = 'pez'") == harness.OWNER_ROLE


def test_pezd_migrate_as_a_role_that_may_not_is_told_so(cluster):
    roles(cluster, "pez_nobody")
    database = cluster.create_database()
    p = migrate(cluster, database, "pez_nobody")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 77, (out, err)
    assert err.startswith("pezd migrate: error: ") and "owner" in err, err


def test_a_role_without_the_grants_is_told_which(start_pezd, cluster):
    database = cluster.create_split_database()
    roles(cluster, "pez_nogrant")
    pezd = start_pezd(user="pez_nogrant", database=database, wait_ready=False)
    wait_until(lambda: "grants.sql" in pezd.get("/readyz").body, 15, what="readyz to name the grants")
    assert "USAGE ON SCHEMA pez" in pezd.get("/readyz").body
    assert "grants.sql" in pezd.log_text()


def test_a_role_that_may_not_take_numbers_is_told_which_grant(start_pezd, cluster):
    database = cluster.create_split_database()
    roles(cluster, "pez_reader")
    # Everything but the right to take numbers.
    cluster.psql(database, "GRANT USAGE ON SCHEMA pez TO pez_reader; "
                           "GRANT SELECT ON pez.schema_migrations, pez.sequences TO pez_reader")
    pezd = start_pezd(["--mode", "strict"], user="pez_reader", database=database)
    r = pezd.get("/v1/forward")
    assert r.status == 500 and "grants.sql" in r.json()["error"], r


def test_admin_through_a_role_with_the_admin_grants(start_pezd, cluster):
    # The last part of grants.sql: create, reset and drop through pezd.
    database = cluster.create_split_database()
    pezd = start_pezd(user=harness.APP_ROLE, database=database)
    assert pezd.pez("admin", "create", "tickets", "--start", "100").returncode == 0
    assert pezd.numbers("tickets", 2) == [100, 101]
    assert pezd.pez("admin", "reset", "tickets").returncode == 0
    assert pezd.numbers("tickets", 1) == [100]
    assert pezd.pez("admin", "reset", "forward", "--to", "50").returncode == 0  # the owner's sequence
    assert pezd.numbers("forward", 1) == [50]
    assert pezd.pez("admin", "drop", "tickets").returncode == 0
    r = pezd.pez("admin", "drop", "forward")
    assert r.returncode != 0 and "built in" in r.stderr, r.stderr


def test_rates_through_a_role_with_only_the_grants(start_pezd, cluster):
    # pez.usage() (sql/008_usage.sql) reads where each sequence stands with the rights of
    # grants.sql; a role that may not read a sequence gets no rate for it, and no error.
    database = cluster.create_split_database()
    pezd = start_pezd(["--usage-interval", "200ms"], user=harness.APP_ROLE, database=database)
    pezd.numbers("forward", 5)

    def forward():
        return json.loads(pezd.pez("admin", "inspect", "forward", "--json").stdout)

    wait_until(lambda: forward()["rate_1h"] is not None, 20, what="the rate of forward")
    pezd.numbers("forward", 5)
    wait_until(lambda: forward()["taken_1h"] >= 5, 20, what="the numbers taken to be counted")
    assert 'pez_sequence_rate{sequence="forward",window="1h"}' in pezd.get("/metrics").body

    roles(cluster, "pez_counter")
    cluster.psql(database, "GRANT USAGE ON SCHEMA pez TO pez_counter; "
                           "GRANT SELECT ON pez.schema_migrations, pez.sequences TO pez_counter; "
                           "GRANT USAGE, UPDATE ON pez.forward TO pez_counter")
    blind = start_pezd(["--usage-interval", "200ms", "--mode", "strict"], user="pez_counter", database=database)
    assert len(blind.numbers("forward", 3)) == 3
    wait_until(lambda: "database up" in blind.log_text(), 10, what="the connection")
    time.sleep(1)  # five readings, each of which finds forward unreadable
    body = blind.get("/metrics").body
    assert 'pez_sequence_remaining{sequence="forward"}' not in body
    assert "cannot read where the sequences stand" not in blind.log_text()


@pytest.mark.parametrize("function", ["pez.usage(text, integer)", "pez.usage_claim(interval, text)",
                                      "pez.usage_refresh(bigint, text, integer)"])
def test_a_role_that_may_not_call_pez_usage_is_told_which_grant(start_pezd, cluster, function):
    # The warning names the function that was refused (sql/016_shared_usage.sql calls pez.usage).
    database = cluster.create_split_database()
    cluster.psql(database, f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC", user=harness.OWNER_ROLE)
    pezd = start_pezd(["--usage-interval", "200ms"], user=harness.APP_ROLE, database=database)
    assert len(pezd.numbers("forward", 2)) == 2  # numbers are handed out as ever
    wait_until(lambda: f"GRANT EXECUTE ON FUNCTION {function} TO pez_app" in pezd.log_text(), 10,
               what="the warning naming the grant")
    assert pezd.get("/readyz").status == 200


def test_a_role_with_the_grants_enters_new_periods_and_cannot_move_the_floor(cluster):
    # sql/011: the floor of periods is raised with its owner's rights when a take enters a new
    # period; pezd's role, with the rights of grants.sql, may do that but neither raise the floor
    # itself nor set it, which would move every periodic sequence's period ahead.
    database = cluster.create_split_database()
    owner = harness.OWNER_ROLE
    cluster.psql(database, "CREATE TABLE public.clock (shift interval NOT NULL); INSERT INTO public.clock VALUES ('0');"
                           "GRANT SELECT ON public.clock TO PUBLIC;"
                           "CREATE OR REPLACE FUNCTION pez.now() RETURNS timestamptz LANGUAGE sql VOLATILE AS "
                           "$$ SELECT '2030-01-01 12:00+00'::timestamptz + (SELECT shift FROM public.clock) $$;"
                           "SELECT pez.create_sequence('days', 1, 1, 1000, 1, false, format => 'D{YYYY}{MM}{DD}-{n}', "
                           "period => 'daily');", user=owner)
    app = harness.APP_ROLE
    assert cluster.psql(database, "SELECT period, numbers FROM pez.take_dated('pez.days', 2)", user=app) \
        == "2030-01-01|{1,2}"
    cluster.psql(database, "UPDATE public.clock SET shift = '1 day'", user=owner)
    assert cluster.psql(database, "SELECT period, numbers FROM pez.take_dated('pez.days', 2)", user=app) \
        == "2030-01-02|{1,2}"
    cluster.psql(database, "UPDATE public.clock SET shift = '0'", user=owner)  # back in the first day
    assert cluster.psql(database, "SELECT pez.period_clock() = '2030-01-02 00:00+00'", user=app) == "t"
    assert cluster.psql(database, "SELECT period, numbers FROM pez.take_dated('pez.days', 1)", user=app) \
        == "2030-01-02|{3}"
    for sql in ("SELECT setval('pez._period_floor', 4102444800000000)",
                "SELECT pez.raise_period_floor('2100-01-01 00:00+00')"):
        r = cluster.psql(database, sql, user=app, check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, (sql, r.stderr)
    assert cluster.psql(database, "SELECT pez.period_clock() = '2030-01-02 00:00+00'", user=app) == "t"
