# SPDX-License-Identifier: Apache-2.0
"""A server that speaks another language (lc_messages): Debian's clusters take it from the
system's locale, so a German or Russian host's PostgreSQL writes "FEHLER:" or "ОШИБКА:" where an
English one writes "ERROR:", and translates its sentences. pezd reads what an error means from
its fields (SQLSTATE, the message apart from the severity, the names in it), never from English
words: users see the server's sentence without the severity, are told the grant a role lacks, and
wrong settings are still told from an outage. The cluster here speaks Russian, whose words for
ERROR and FATAL are both translated."""

import json
import os
import shutil
import subprocess

import pytest

import harness
from harness import admin_token_file, assert_one_error_line, bearer, wait_until

pytestmark = pytest.mark.strict_only  # messages, the same in both modes

LOCALE = "ru_RU.UTF-8"


@pytest.fixture(scope="module")
def cluster():
    """A cluster whose messages are Russian, with the locale built into a directory of its own
    (localedef of the locales package) so that the system's locales are left as they are."""
    locales = harness.short_tempdir("pez-locale-")
    try:
        made = subprocess.run(["localedef", "-i", "ru_RU", "-f", "UTF-8", os.path.join(locales, LOCALE)],
                              capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        made = None
    if made is None or not os.path.isdir(os.path.join(locales, LOCALE)):
        raise AssertionError("localedef could not build the ru_RU.UTF-8 locale: install the locales package "
                             f"(scripts/setup-deps) {made.stderr if made else ''}")
    subprocess.run(["chmod", "-R", "a+rX", locales], check=True)
    c = harness.Cluster(settings={"lc_messages": f"'{LOCALE}'"}, environment={"LOCPATH": locales})
    try:
        # The check that makes the tests mean something: the server's own words are translated
        # (postgresql-15 installs its translations under /usr/share/locale).
        said = c.psql("postgres", "SELECT 1 / 0", check=False)
        assert said.returncode != 0 and "ОШИБКА" in said.stderr and "ERROR" not in said.stderr, (
            f"the server does not speak Russian, so these tests would prove nothing: {said.stderr!r} (are "
            f"PostgreSQL's translations in /usr/share/locale/ru/LC_MESSAGES?)")
        yield c
    finally:
        c.destroy()
        shutil.rmtree(locales, ignore_errors=True)


def test_the_servers_sentence_reaches_the_user_without_its_severity(start_pezd, cluster, workdir):
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)], database=cluster.create_split_database(),
                      user=harness.APP_ROLE)
    assert pezd.pez("admin", "create", "tickets", "--max", "10").returncode == 0
    said = 'cannot reset "tickets" to 50: it must lie within min (1) and max (10)'
    r = pezd.pez("admin", "reset", "tickets", "--to", "50")
    assert_one_error_line(r, 64)  # refused arguments, as pez(1) says
    assert r.stderr == f"pez: error: {said}\n", r.stderr
    r = pezd.get("/admin/sequences/tickets/reset", method="POST", headers=bearer(), body=json.dumps({"to": 50}))
    assert r.status == 400 and r.json()["error"] == said, r
    assert pezd.numbers("tickets", 1) == [1]


def test_a_role_refused_a_usage_function_is_told_which_grant(start_pezd, cluster):
    database = cluster.create_split_database()
    cluster.psql(database, "REVOKE EXECUTE ON FUNCTION pez.usage_claim(interval, text) FROM PUBLIC",
                 user=harness.OWNER_ROLE)
    pezd = start_pezd(["--usage-interval", "200ms"], user=harness.APP_ROLE, database=database)
    assert len(pezd.numbers("forward", 2)) == 2
    wait_until(lambda: "cannot read where the sequences stand" in pezd.log_text(), 10, what="the warning")
    log = pezd.log_text()
    assert f"GRANT EXECUTE ON FUNCTION pez.usage_claim(interval, text) TO {harness.APP_ROLE}" in log, log
    assert "ОШИБКА" not in log, log


@pytest.mark.parametrize("setting,what", [
    ({"database": "no_such_database"}, "the database it names does not exist"),
    # The server's reason is in Russian: that a role was refused is all its SQLSTATE says.
    ({"user": "no_such_role"}, "the server refused its role"),
])
def test_wrong_database_settings_are_told_from_an_outage(start_pezd, cluster, setting, what):
    if "database" not in setting:
        setting = {**setting, "database": cluster.create_database()}
    pezd = start_pezd(["--request-timeout", "1s"], wait_ready=False, **setting)
    wait_until(lambda: "database unavailable" in pezd.log_text(), 10, what="the first failed attempt")
    assert_one_error_line(pezd.pez("forward"), 78, "pezd's database settings are wrong: " + what)
