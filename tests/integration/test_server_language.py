# SPDX-License-Identifier: Apache-2.0
"""A server that speaks another language (lc_messages): Debian's clusters take it from the
system's locale, so a German or Russian host's PostgreSQL writes "FEHLER:" or "ОШИБКА:" where an
English one writes "ERROR:", and translates its sentences. pezd reads what an error means from
its fields (SQLSTATE, the message apart from the severity, the names in it), not from English
words (but for one detail, which a refused role is told with): users see the server's sentence without the severity, are told the grant a role lacks, and
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
GERMAN = "de_DE.UTF-8"
SQL_ASCII = "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"


@pytest.fixture(scope="module")
def cluster():
    """A cluster whose messages are Russian, with the locales built into a directory of its own
    (localedef of the locales package) so that the system's locales are left as they are; a
    database may speak German instead (ALTER DATABASE … SET lc_messages)."""
    locales = harness.short_tempdir("pez-locale-")
    for locale in (LOCALE, GERMAN):
        try:
            made = subprocess.run(["localedef", "-i", locale.split(".")[0], "-f", locale.split(".")[1],
                                   os.path.join(locales, locale)], capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            made = None
        if made is None or not os.path.isdir(os.path.join(locales, locale)):
            raise AssertionError(f"localedef could not build the {locale} locale: install the locales package "
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


def test_a_database_in_another_encoding_is_answered_in_utf8(start_pezd, cluster):
    # A German server writes "für" as the one byte 0xFC in a LATIN1 database unless the client
    # asks for UTF-8 (client_encoding): what pezd passes on (answers, its log) is UTF-8.
    said = "Berechtigung für"
    database = cluster.create_split_database(options="ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                                                     "TEMPLATE template0")
    cluster.psql("postgres", f"ALTER DATABASE {database} SET lc_messages = '{GERMAN}'")
    cluster.psql(database, f"REVOKE USAGE, UPDATE ON SEQUENCE pez.forward FROM {harness.APP_ROLE}",
                 user=harness.OWNER_ROLE)
    cluster.psql(database, "REVOKE EXECUTE ON FUNCTION pez.usage_claim(interval, text) FROM PUBLIC",
                 user=harness.OWNER_ROLE)
    pezd = start_pezd(["--mode", "strict", "--usage-interval", "200ms"], user=harness.APP_ROLE, database=database)
    r = pezd.get("/v1/forward")
    assert r.status == 500, r
    error = r.json()["error"]  # the body is read as UTF-8 (a 0xFC byte would not be)
    assert said in error and "grants.sql" in error, error
    assert_one_error_line(pezd.pez("forward"), 1, said)
    wait_until(lambda: "cannot read where the sequences stand" in pezd.log_text(), 10, what="the warning")
    with open(pezd.log_path, "rb") as f:
        log = f.read().decode("utf-8")  # raises on a byte that is no UTF-8
    assert f"keine {said} Funktion usage_claim" in log, log


def test_bytes_that_are_no_utf8_never_reach_an_answer(start_pezd, cluster):
    # A SQL_ASCII database converts nothing and checks nothing: a function changed by hand may
    # raise an error with any bytes (here Latin-1's "für"). pezd reads them as they are (see
    # below) and makes each byte that is no UTF-8 U+FFFD: its JSON answer and its log stay UTF-8.
    database = cluster.create_split_database(options=SQL_ASCII)
    cluster.psql(database, "CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint "
                           "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', "
                           "MESSAGE = E'nicht f\\xfcr dich'; END $$", user=harness.OWNER_ROLE)
    pezd = start_pezd(["--mode", "strict"], user=harness.APP_ROLE, database=database)
    r = pezd.get("/v1/forward")  # the body is read as UTF-8 (a 0xFC byte would not be)
    assert r.status == 400 and r.json()["error"] == "nicht f\ufffdr dich", r
    assert_one_error_line(pezd.pez("forward"), 64, "nicht f\ufffdr dich")
    with open(pezd.log_path, "rb") as f:
        f.read().decode("utf-8")  # raises on a byte that is no UTF-8


def test_one_garbled_row_of_a_sql_ascii_database_stops_no_other_sequence(start_pezd, cluster, workdir):
    # Any role that may write the rows may write any bytes into them, or into a sequence's name.
    # A server asked for UTF8 refuses a whole statement for one such byte (22021): one format
    # changed by hand stopped the read of the catalog, and every sequence answered 503. pezd asks
    # a SQL_ASCII server for the bytes as stored: the garbled sequence alone is refused, with the
    # reason, and the oddly named one is left alone by every read, the reads of use among them.
    database = cluster.create_split_database(options=SQL_ASCII)
    flags = ["--admin-token-file", admin_token_file(workdir), "--usage-interval", "200ms"]
    first = start_pezd(flags, user=harness.APP_ROLE, database=database)
    assert first.pez("admin", "create", "tickets", "--format", "T-{n}").returncode == 0
    first.stop()
    cluster.psql(database, "UPDATE pez.sequences SET format = E'T\\xfc{n}' WHERE name = 'tickets'",
                 user=harness.OWNER_ROLE)
    cluster.psql(database, "DO $$ BEGIN EXECUTE E'CREATE SEQUENCE pez.\"f\\xfcr\"'; END $$", user=harness.OWNER_ROLE)
    pezd = start_pezd(flags, user=harness.APP_ROLE, database=database)
    assert pezd.numbers("forward", 2) == [1, 2]
    r = pezd.get("/v1/tickets")  # the body is read as UTF-8
    assert r.status == 500 and 'its format "T\\\\374{n}" cannot be used' in r.json()["error"], r
    wait_until(lambda: pezd.get("/admin/sequences/forward", headers=bearer()).json()["rate_1h"] is not None, 20,
               what="two reads of use")
    assert "cannot read where the sequences stand" not in pezd.log_text(), pezd.log_text()


def test_a_format_the_servers_encoding_cannot_convert_stops_no_other_sequence(start_pezd, cluster, workdir):
    # WIN1252 stores the byte 0x81, which has no equivalent in UTF8: a server asked for UTF8
    # refuses to send it (22P05), and a format holding it stopped the read of the catalog. pezd
    # reads the format's columns as stored bytes, escaped: the sequence alone is refused.
    database = cluster.create_split_database(options="ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' "
                                                     "TEMPLATE template0")
    flags = ["--admin-token-file", admin_token_file(workdir)]
    first = start_pezd(flags, user=harness.APP_ROLE, database=database)
    assert first.pez("admin", "create", "tickets", "--format", "T-{n}").returncode == 0
    first.stop()
    cluster.psql(database, "UPDATE pez.sequences SET format = E'T\\x81{n}' WHERE name = 'tickets'",
                 user=harness.OWNER_ROLE)
    pezd = start_pezd(flags, user=harness.APP_ROLE, database=database)
    assert pezd.numbers("forward", 2) == [1, 2]
    r = pezd.get("/v1/tickets")
    assert r.status == 500 and 'its format "T\\\\201{n}" cannot be used' in r.json()["error"], r
    shown = pezd.pez("admin", "inspect", "tickets")
    assert shown.returncode == 0 and "T\\\\201{n}" in shown.stdout, shown


def test_a_name_the_servers_encoding_cannot_convert_stops_no_reading_of_use(start_pezd, cluster, workdir):
    # A sequence made by hand in pezd's schema with a name holding WIN1252's 0x81: pezd serves no
    # such name, but the pages of pez.usage listed it, and the server refused every page (22P05),
    # so that no rate or forecast was ever read. The pages hold only names pezd serves.
    database = cluster.create_split_database(options="ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' "
                                                     "TEMPLATE template0")
    cluster.psql(database, "DO $$ BEGIN EXECUTE E'CREATE SEQUENCE pez.\"f\\x81r\"'; END $$", user=harness.OWNER_ROLE)
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir), "--usage-interval", "200ms"],
                      user=harness.APP_ROLE, database=database)
    assert pezd.numbers("forward", 2) == [1, 2]
    wait_until(lambda: pezd.get("/admin/sequences/forward", headers=bearer()).json()["rate_1h"] is not None, 20,
               what="two reads of use")
    assert "cannot read where the sequences stand" not in pezd.log_text(), pezd.log_text()


def test_a_description_that_is_no_utf8_is_answered_in_utf8(start_pezd, cluster, workdir):
    # Nor does a SQL_ASCII database check its rows: a description written by hand in Latin-1 (or
    # any bytes) comes to pezd as those bytes. What pezd answers in JSON is UTF-8 all the same
    # (each stray byte U+FFFD), and the numbers flow. A row may hold control characters too (in
    # any encoding): JSON escapes them, and pez shows them as U+FFFD rather than let an escape
    # sequence drive the operator's terminal.
    database = cluster.create_split_database(options=SQL_ASCII)
    cluster.psql(database, "UPDATE pez.sequences SET description = E'f\\xfcr Kunden\\x1b[2J' WHERE name = 'forward'",
                 user=harness.OWNER_ROLE)
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)], user=harness.APP_ROLE, database=database)
    assert pezd.numbers("forward", 3) == [1, 2, 3]
    for path in ("/admin/sequences", "/admin/sequences/forward"):
        r = pezd.get(path, headers=bearer())  # the body is read as UTF-8 (a 0xFC byte would not be)
        assert r.status == 200 and "f\ufffdr Kunden\\u001b[2J" in r.body, r
    for command in (["list"], ["inspect", "forward"]):
        shown = pezd.pez("admin", *command)
        assert shown.returncode == 0 and "f\ufffdr Kunden\ufffd[2J" in shown.stdout, shown
        assert "\x1b" not in shown.stdout, shown


def test_a_description_the_servers_encoding_cannot_convert_is_listed_all_the_same(start_pezd, cluster, workdir):
    # In a WIN1252 database a description written by hand may hold 0x81, which has no equivalent
    # in UTF-8: the server refused the whole list to pezd (22P05), so pez admin list and inspect
    # failed for every sequence. The description comes in UTF-8 with that character as U+FFFD,
    # and the characters it can convert (0xFC, u with diaeresis) as they are.
    database = cluster.create_split_database(options="ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' "
                                                     "TEMPLATE template0")
    cluster.psql(database, "UPDATE pez.sequences SET description = E'f\\xfcr Kunden \\x81' WHERE name = 'forward'",
                 user=harness.OWNER_ROLE)
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)], user=harness.APP_ROLE, database=database)
    assert pezd.numbers("forward", 3) == [1, 2, 3]
    for path in ("/admin/sequences", "/admin/sequences/forward"):
        r = pezd.get(path, headers=bearer())
        assert r.status == 200 and "f\u00fcr Kunden \ufffd" in r.body, r
    listed = pezd.get("/admin/sequences", headers=bearer()).json()
    reverse = "descending, 9223372036854775807 to 1, then 9223372036854775807 again"  # as migration 003 wrote it
    assert [s["description"] for s in listed if s["name"] == "reverse"] == [reverse], listed
    for command in (["list"], ["inspect", "forward"]):
        shown = pezd.pez("admin", *command)
        assert shown.returncode == 0 and "f\u00fcr Kunden \ufffd" in shown.stdout, shown
    # One written by hand may be long: its conversion takes time in proportion (a megabyte took
    # 20 s, past the statement timeout, when each character was added to the whole so far).
    cluster.psql(database, "UPDATE pez.sequences SET description = repeat('a', 1000000) || E'\\x81' "
                           "WHERE name = 'forward'", user=harness.OWNER_ROLE)
    r = pezd.get("/admin/sequences/forward", headers=bearer())
    assert r.status == 200 and r.json()["description"] == "a" * 1000000 + "\ufffd", r


def test_a_description_costs_no_function_call_where_the_server_keeps_utf8(cluster, db):
    # pez.description_utf8 is one expression that PostgreSQL writes into the query calling it: in
    # a UTF8 or SQL_ASCII database a list of 10,000 sequences reads the stored bytes, where a call
    # of a PL/pgSQL function for each row cost 43 ms.
    plan = cluster.psql(db, "EXPLAIN (VERBOSE, COSTS OFF) SELECT pez.description_utf8(description) FROM pez.sequences")
    assert "convert_to(" in plan and "description_utf8(" not in plan, plan
    assert cluster.psql(db, "SELECT pez.description_utf8(E'f\\u00fcr'), pez.description_utf8(NULL) IS NULL") == \
        "\\x66c3bc72|t"


def test_an_error_with_an_escape_sequence_reaches_no_terminal(start_pezd, cluster):
    # A function changed by hand may raise any characters, an escape sequence among them: pezd's
    # answers and log, and pez's message, show U+FFFD instead.
    database = cluster.create_split_database()
    cluster.psql(database, "CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint "
                           "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', "
                           "MESSAGE = E'nein\\x1b]0;owned\\x07'; END $$", user=harness.OWNER_ROLE)
    pezd = start_pezd(["--mode", "strict"], user=harness.APP_ROLE, database=database)
    r = pezd.get("/v1/forward")
    assert r.status == 400 and r.json()["error"] == "nein\ufffd]0;owned\ufffd", r
    said = pezd.pez("forward")
    assert_one_error_line(said, 64, "nein\ufffd]0;owned\ufffd")
    assert "\x1b" not in said.stderr and "\x07" not in said.stderr, said
    wait_until(lambda: "owned" in pezd.log_text(), 10, what="the error in pezd's log")
    assert "\x1b" not in pezd.log_text(), pezd.log_text()
