# SPDX-License-Identifier: Apache-2.0
"""Starting and stopping pezd: settings, the schema, signals and the socket file."""

import os
import re
import signal
import subprocess
import time

import pytest

import harness
from harness import PEZD, ROOT, Pezd, wait_until


def run_pezd(args, env, timeout=10):
    full = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    full.update(PEZ_CONFIG="")
    full.update(env)
    return subprocess.run([PEZD] + args, capture_output=True, text=True, env=full, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,env,names", [
    ([], {"PEZ_MAX_COUNT": "0"}, "max_count"),
    ([], {"PEZ_MAX_COUNT": "lots"}, "PEZ_MAX_COUNT"),
    ([], {"PEZ_HTTP": "nonsense"}, "http"),
    (["--mode", "fast"], {}, "--mode"),
    (["--request-timeout", "forever"], {}, "request_timeout"),
    ([], {"PEZ_LOG_LEVEL": "shouty"}, "log_level"),
    ([], {"PEZ_DATABASE_URL": "host=db bogus=1"}, "database_url"),
])
def test_a_bad_setting_stops_pezd_and_names_it(args, env, names, workdir):
    r = run_pezd(args + ["--socket", os.path.join(workdir, "s.sock")], env)
    assert r.returncode == 78, r
    assert r.stderr.startswith("pezd: error: ")
    assert names in r.stderr
    assert not os.path.exists(os.path.join(workdir, "s.sock"))


def test_an_unknown_flag_is_a_usage_error(workdir):
    r = run_pezd(["--frobnicate"], {})
    assert r.returncode == 64
    assert "pezd --help" in r.stderr


def test_config_file_and_precedence(start_pezd, workdir):
    conf = os.path.join(workdir, "pezd.conf")
    with open(conf, "w") as f:
        f.write("# test\nmax_count = 7\nrequest_timeout = 3s\n")
    pezd = start_pezd(["--config", conf])
    assert pezd.get("/v2/forward?count=8").status == 400
    assert pezd.get("/v2/forward?count=7").status == 200
    other = start_pezd(["--config", conf], env={"PEZ_MAX_COUNT": "9"})
    assert other.get("/v2/forward?count=9").status == 200
    flagged = start_pezd(["--config", conf, "--max-count", "11"], env={"PEZ_MAX_COUNT": "9"})
    assert flagged.get("/v2/forward?count=11").status == 200


def test_an_unknown_setting_in_the_config_file_is_refused(workdir):
    conf = os.path.join(workdir, "pezd.conf")
    with open(conf, "w") as f:
        f.write("max_count = 7\ncolour = blue\n")
    r = run_pezd(["--config", conf], {})
    assert r.returncode == 78
    assert f"{conf}:2" in r.stderr and "colour" in r.stderr


def test_help_and_version():
    r = run_pezd(["--help"], {})
    assert r.returncode == 0
    assert "--max-count" in r.stdout and "--http" in r.stdout
    assert "--db-password" not in r.stdout.replace("--db-password-file", "")
    r = run_pezd(["--version"], {})
    assert r.returncode == 0 and r.stdout.startswith("pezd ")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["--print-config"], ["--check-config"]])
def test_what_pezd_prints_and_exits_after_fails_when_it_cannot_be_written(args):
    # pezd --print-config >/dev/full: exit 1, saying why, not 0 with the output lost.
    full = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    full.update(PEZ_CONFIG="")
    with open("/dev/full", "w") as out:
        r = subprocess.run([PEZD] + args, stdout=out, stderr=subprocess.PIPE, text=True, env=full, timeout=10,
                           stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr
    assert r.stderr == "pezd: error: cannot write to standard output: No space left on device\n", r.stderr


@pytest.mark.empty_database
def test_pezd_creates_the_schema(pezd, cluster):
    assert cluster.psql(pezd.database, "SELECT count(*) FROM pg_sequences WHERE schemaname = 'pez' "
                                       "AND sequencename IN ('forward', 'reverse')") == "2"
    row = cluster.psql(pezd.database, "SELECT increment_by, min_value, max_value, cycle FROM pg_sequences "
                                      "WHERE schemaname = 'pez' AND sequencename = 'reverse'")
    assert row == "-1|1|9223372036854775807|t"
    assert cluster.psql(pezd.database, "SELECT max(version) FROM pez.schema_migrations") != ""


def test_a_role_that_may_not_create_the_schema_is_told_what_to_run(start_pezd, cluster):
    cluster.psql("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'weak') THEN "
                             "CREATE ROLE weak LOGIN; END IF; END $$")
    database = cluster.create_database()
    cluster.psql(database, "REVOKE CREATE ON DATABASE \"%s\" FROM PUBLIC" % database)
    cluster.psql(database, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    pezd = start_pezd(database=database, user="weak", wait_ready=False)
    wait_until(lambda: "pezd migrate" in pezd.log_text(), 10, what="the message saying what to run")
    assert "may not change it" in pezd.log_text() and "grants.sql" in pezd.log_text()
    r = pezd.get("/readyz")
    assert r.status == 503
    assert "pezd migrate" in r.json()["error"] and "grants.sql" in r.json()["error"]
    assert pezd.get("/v1/forward").status == 503
    assert pezd.proc.poll() is None  # still up, waiting for a DBA

    # Once the owner ran what it said, pezd serves without a restart.
    sql_dir = os.environ.get("PEZ_SQL_DIR", os.path.join(os.path.dirname(PEZD), "..", "..", "sql"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_") and not k.startswith("PG")}
    env.update(PEZ_CONFIG="", PGHOST=cluster.dir, PGPORT=str(cluster.port), PGUSER="postgres", PGDATABASE=database)
    subprocess.run([PEZD, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(["/usr/lib/postgresql/15/bin/psql", "-h", cluster.dir, "-p", str(cluster.port), "-U", "postgres",
                    "-d", database, "-v", "ON_ERROR_STOP=1", "-v", "pezd=weak", "-qf",
                    os.path.join(sql_dir, "grants.sql")], check=True, capture_output=True)
    pezd.wait_ready()
    assert pezd.get("/v1/forward").body == "1\n"


@pytest.mark.strict_only  # block mode, given
@pytest.mark.skipif(bool(harness.PGBOUNCER), reason="the connection options go to PostgreSQL itself")
def test_block_mode_hears_notices_though_new_connections_open_slowly(start_pezd):
    # Each new connection waits 2 s after logging in (post_auth_delay), the one that sends the
    # probe's notice too, as on a loaded server: the wait for the notice starts once it is sent,
    # so the connection is found to hear notices and block mode serves.
    pezd = start_pezd(["--mode", "block"], env={"PGOPTIONS": "-c post_auth_delay=2"}, wait_ready=False)
    pezd.wait_ready(timeout=30)
    assert "change notices do not reach" not in pezd.log_text()
    r = pezd.pez("forward")
    assert r.returncode == 0, r.stderr


def test_block_mode_serves_once_a_failed_notice_probe_is_heard_on_the_same_connection(start_pezd, cluster):
    # The database lets one connection of pezd's role in (CONNECTION LIMIT, which binds a role
    # that is no superuser): pezd's one connection takes it, the probe's second connection is
    # refused, no notice is sent, and block mode refuses. Once the limit is lifted, a later
    # probe of the same connection hears its notice and block mode serves; the connection is
    # neither lost nor opened again.
    database = cluster.create_split_database()
    cluster.psql("postgres", f'ALTER DATABASE "{database}" CONNECTION LIMIT 1')
    pezd = start_pezd(["--mode", "block", "--db-connections", "1"], user=harness.APP_ROLE, database=database,
                      wait_ready=False)
    # /readyz names the problem once the connection is set up (its probe fails during the setup).
    wait_until(lambda: "could not send one" in pezd.get("/readyz").body, 20, what="the probe to fail")
    r = pezd.get("/readyz")
    assert r.status == 503 and "too many connections" in r.body and "leave room" in r.body, r
    sessions = (f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND backend_type = 'client backend'"
                " ORDER BY backend_start")
    # pezd's connection is the oldest (a probe's refused one may show for a moment).
    before = cluster.psql("postgres", sessions).split()[0]
    cluster.psql("postgres", f'ALTER DATABASE "{database}" CONNECTION LIMIT -1')
    pezd.wait_ready(timeout=30)
    r = pezd.pez("forward")
    assert r.returncode == 0, r.stderr
    # The probe's own connection closes a moment after it is heard; pezd's stays.
    wait_until(lambda: cluster.psql("postgres", sessions).split() == [before], 10, what="pezd's one connection, the same")
    log = pezd.log_text()
    assert "change notices reach the database connection" in log, log
    assert "lost" not in log and log.count("warning: whether change notices reach") == 1, log


def test_sigterm_exits_0_and_removes_the_socket(pezd):
    assert pezd.get("/v1/forward").status == 200
    assert pezd.stop(signal.SIGTERM) == 0
    assert not os.path.exists(pezd.socket)
    assert "pezd stopped" in pezd.log_text()


def test_sigint_exits_0(pezd):
    assert pezd.stop(signal.SIGINT) == 0


def test_sigterm_finishes_requests_in_flight(start_pezd, cluster):
    pezd = start_pezd(["--request-timeout", "3s"])
    c = pezd.lines()
    # Freeze the database so a request is in flight when SIGTERM arrives.
    backends = [int(p) for p in cluster.psql("postgres", "SELECT pid FROM pg_stat_activity WHERE "
                                                         "application_name = 'pezd'").split()]
    for p in backends:
        os.kill(p, signal.SIGSTOP)
    try:
        c.send("NEXT forward\n")
        time.sleep(0.3)
        pezd.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        for p in backends:
            os.kill(p, signal.SIGCONT)
        answer = c.read_line()
        assert answer.startswith("OK ") or answer.startswith("ERR unavailable "), answer
    finally:
        for p in backends:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert pezd.proc.wait(15) == 0


def test_a_stale_socket_from_a_crash_is_replaced(start_pezd, cluster, db, workdir):
    pezd = start_pezd()
    pezd.kill9()
    assert os.path.exists(pezd.socket)  # left behind
    again = pezd.restart()
    assert again.pez("forward").returncode == 0
    assert "stale socket" in again.log_text()


def test_a_second_pezd_on_the_same_socket_refuses_to_start(pezd, cluster):
    twin = Pezd(cluster, pezd.database, pezd.workdir, http=False)
    twin.socket = pezd.socket
    twin.log = open(twin.log_path, "a")
    proc = subprocess.Popen(twin.command(), stdout=twin.log, stderr=subprocess.STDOUT, env=twin.env)
    assert proc.wait(10) == 1
    assert "another pezd is already serving" in twin.log_text()
    assert pezd.pez("forward").returncode == 0  # the first one is untouched


def test_pezd_started_with_closed_standard_descriptors_keeps_them_off_its_sockets(cluster, db, workdir):
    # pezd 1>&- 2>&-: its listeners and database connections must not take descriptors 1 and 2
    # (the log would be written into them); they are opened on /dev/null first.
    p = Pezd(cluster, db, workdir, http=False)
    proc = subprocess.Popen(["bash", "-c", 'exec "$@" >&- 2>&-', "bash"] + p.command(), env=p.env,
                            stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: proc.poll() is not None or os.path.exists(p.socket), 15, what="pezd's socket")
        assert proc.poll() is None, proc.returncode
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{proc.pid}/fd/{fd}") == "/dev/null", fd
        r = p.pez("forward")
        assert (r.returncode, r.stdout) == (0, "1\n"), r.stderr
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def test_help_is_grouped_as_pezd_conf_5_is_and_fits_100_columns():
    r = run_pezd(["--help"], {})
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    with open(os.path.join(ROOT, "man", "pezd.conf.5")) as f:
        manual = f.read()
    # The manual's sections, in order, each with its settings.
    sections = re.findall(r"^\.Ss (\w+)\n(.*?)(?=^\.Ss |^\.Sh )", manual, re.M | re.S)
    headings = [line[:-1] for line in lines if re.fullmatch(r"[A-Z][a-z]+:", line)]
    assert headings == ["Options"] + [title for title, _ in sections], headings
    where = {}
    current = None
    for line in lines:
        if re.fullmatch(r"[A-Z][a-z]+:", line):
            current = line[:-1]
        for flag in re.findall(r"^  (--[a-z-]+)", line):
            where[flag] = current
    for title, body in sections:
        for key in re.findall(r"^\.It Cm ([a-z_]+)", body, re.M):
            if key == "db_password":
                continue  # no flag, so that it never shows in ps(1)
            assert where.get("--" + key.replace("_", "-")) == title, key


def test_an_unknown_pez_variable_is_warned_of_and_fails_check_config(start_pezd, workdir):
    r = run_pezd(["--check-config"], {"PEZ_MAX_COUT": "3"})
    assert r.returncode == 78, r
    assert 'unknown environment variable PEZ_MAX_COUT; did you mean "PEZ_MAX_COUNT"?' in r.stderr
    assert run_pezd(["--check-config"], {"PEZ_MAX_COUNT": "3"}).returncode == 0
    pezd = start_pezd(env={"PEZ_MAX_COUT": "3"})
    assert re.search(r"warning: unknown environment variable PEZ_MAX_COUT; did you mean", pezd.log_text())
    assert pezd.get("/v2/forward?count=50").status == 200  # ignored: max_count is still 100
