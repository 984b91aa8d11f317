# SPDX-License-Identifier: Apache-2.0
"""pezd under systemd: notices on NOTIFY_SOCKET (ready, status, watchdog, reload, stop), a socket
passed by socket activation, and --print-config / --check-config. A datagram socket of this test
stands in for systemd's notify socket."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from harness import MODE, PEZD, LineClient, NotifySocket, run_pez, wait_until


@pytest.fixture
def notify(workdir):
    n = NotifySocket(workdir)
    yield n
    n.close()


def test_ready_only_once_the_database_is_up(start_pezd, cluster, notify):
    # A database that does not exist yet: pezd runs, keeps trying, and is not ready.
    missing = f"later_{os.getpid()}"
    pezd = start_pezd(database=missing, env={"NOTIFY_SOCKET": notify.path}, wait_ready=False)
    time.sleep(1.5)
    assert "READY" not in notify.keys(), notify.notices
    assert any(n.get("STATUS", "").startswith("waiting for the database") for n in notify.notices) or \
        notify.wait_for("STATUS", timeout=2)
    cluster.psql("postgres", f'CREATE DATABASE "{missing}"')
    at = notify.wait_for("READY")
    ready = notify.notices[at - 1]
    assert ready["READY"] == "1"
    assert ready["STATUS"].startswith(f"serving in {MODE} mode"), ready
    assert pezd.pez("forward").returncode == 0
    if MODE == "block":
        # Block mode says ready only with the first blocks in memory.
        metrics = pezd.get("/metrics").body
        for name in ("forward", "reverse"):
            reserved = re.search(rf'pez_reserved_numbers{{sequence="{name}"}} (\d+)', metrics)
            assert reserved and int(reserved.group(1)) > 0, metrics


def test_block_mode_is_ready_with_its_first_blocks_reserved(start_pezd, notify):
    pezd = start_pezd(["--mode", "block"], env={"NOTIFY_SOCKET": notify.path}, wait_ready=False)
    notify.wait_for("READY")
    metrics = pezd.get("/metrics").body
    for name in ("forward", "reverse"):
        reserved = re.search(rf'pez_reserved_numbers{{sequence="{name}"}} (\d+)', metrics)
        assert reserved and int(reserved.group(1)) >= 100, metrics


def test_watchdog_is_fed_from_the_event_loop(start_pezd, notify):
    pezd = start_pezd(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}, wait_ready=False)
    notify.wait_for("READY")
    start = len(notify.notices)
    time.sleep(1.2)
    fed = notify.keys(start).count("WATCHDOG")
    assert fed >= 4, notify.notices[start:]
    # A stopped process (as a stuck event loop would) feeds nothing; it goes on when it runs again.
    pezd.send_signal(signal.SIGSTOP)
    try:
        notify.poll()
        start = len(notify.notices)
        time.sleep(0.8)
        assert "WATCHDOG" not in notify.keys(start)
    finally:
        pezd.send_signal(signal.SIGCONT)
    notify.wait_for("WATCHDOG", timeout=2, after=start)
    assert "pezd reports every 200ms" in pezd.log_text()


def test_reload_and_stop_are_announced(start_pezd, notify):
    pezd = start_pezd(env={"NOTIFY_SOCKET": notify.path}, wait_ready=False)
    notify.wait_for("READY")
    start = len(notify.notices)
    pezd.send_signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING", after=start)
    assert int(notify.notices[reloading - 1]["MONOTONIC_USEC"]) > 0
    notify.wait_for("READY", after=reloading)
    start = len(notify.notices)
    assert pezd.stop(signal.SIGTERM) == 0
    stopping = notify.wait_for("STOPPING", timeout=2, after=start)
    assert "SIGTERM" in notify.notices[stopping - 1]["STATUS"]


def test_stop_asks_systemd_to_wait_for_the_drain(start_pezd, notify):
    # A drain may last the longer of request_timeout and admin_timeout, plus 2 s; systemd is asked
    # for that and 5 s more, so that a TimeoutStopSec shorter than admin_timeout cuts no drain short.
    pezd = start_pezd(["--request-timeout", "1s", "--admin-timeout", "40s"],
                      env={"NOTIFY_SOCKET": notify.path}, wait_ready=False)
    notify.wait_for("READY")
    start = len(notify.notices)
    assert pezd.stop(signal.SIGTERM) == 0
    stopping = notify.notices[notify.wait_for("STOPPING", timeout=2, after=start) - 1]
    assert stopping.get("EXTEND_TIMEOUT_USEC") == str(47_000_000), stopping


def test_without_notify_socket_nothing_is_sent(start_pezd):
    pezd = start_pezd(env={"WATCHDOG_USEC": "400000"})
    assert pezd.pez("forward").returncode == 0
    time.sleep(0.5)
    assert "systemd" not in pezd.log_text()


def connected(path):
    """A client of the socket at path, or None while it refuses (or is not there yet)."""
    try:
        return LineClient(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return None


def test_socket_activation_serves_the_passed_socket_and_leaves_it(cluster, db, workdir):
    path = os.path.join(workdir, "activated.sock")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEZ_", "PG"))}
    env.update(PEZ_CONFIG="", PGHOST=cluster.dir, PGUSER="postgres", PGDATABASE=db)
    log_path = os.path.join(workdir, "activated.log")
    # systemd-socket-activate makes the socket, waits for a client, then starts pezd with it as
    # fd 3, LISTEN_FDS=1 and LISTEN_PID, as pezd.socket does.
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["systemd-socket-activate", "-l", path, "-E", "PEZ_CONFIG", "-E", "PGHOST",
                                 "-E", "PGUSER", "-E", "PGDATABASE", PEZD, "--socket", path, "--mode", MODE,
                                 "--log-level", "debug"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        # The file exists once bound, a moment before the socket listens: a client refused then
        # tries again. The first client let in starts pezd; numbers are asked for once its
        # database is set up.
        client = wait_until(lambda: connected(path), 10, what="the activation socket to accept a client")
        inode = os.stat(path).st_ino
        assert client.ask("PING") == "OK pong"
        client.close()
        wait_until(lambda: "database up" in open(log_path).read(), 15, what="the database")
        result = run_pez(["forward", "-n", "3"], socket_path=path, timeout=30)
        assert result.returncode == 0, (result, open(log_path).read())
        assert len(result.stdout.split()) == 3
        log_text = open(log_path).read()
        assert f"socket listening on {path} (passed by systemd)" in log_text, log_text
        assert "removed the stale socket" not in log_text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, open(log_path).read()
        # The socket belongs to whoever passed it: pezd leaves the file.
        assert os.path.exists(path) and os.stat(path).st_ino == inode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_passed_socket_of_the_wrong_kind_is_refused(workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEZ_", "PG"))}
    env.update(PEZ_CONFIG="")
    # A TCP socket where pezd.socket would pass a Unix one, passed by hand as fd 3.
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    try:
        result = subprocess.run(["bash", "-c", f'exec 3<&{tcp.fileno()}; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "bash",
                                 PEZD, "--socket", os.path.join(workdir, "x.sock")],
                                capture_output=True, text=True, env=env, timeout=20, stdin=subprocess.DEVNULL,
                                pass_fds=(tcp.fileno(),))
    finally:
        tcp.close()
    assert result.returncode == 1, result
    assert "not a listening Unix stream socket" in result.stderr, result.stderr


def pezd_tool(args, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    full.update(env or {})
    return subprocess.run([PEZD] + args, capture_output=True, text=True, env=full, timeout=10,
                          stdin=subprocess.DEVNULL)


def test_print_config_shows_values_origins_and_masks_secrets(workdir):
    conf = os.path.join(workdir, "pezd.conf")
    with open(conf, "w") as f:
        f.write("# a comment\nmax_count = 250\nsocket = /tmp/from-file.sock\ndb_password = filesecret\n")
    r = pezd_tool(["--config", conf, "--print-config", "--mode", "block"],
                  {"PEZ_REQUEST_TIMEOUT": "7s", "PEZ_DATABASE_URL": "postgresql://pez:urlsecret@db1,db2/pez"})
    assert r.returncode == 0, r
    lines = {line.split(" = ")[0]: line for line in r.stdout.splitlines() if " = " in line}
    assert re.match(r"max_count = 250 +# file .*pezd.conf:2$", lines["max_count"])
    assert re.match(r"mode = block +# flag --mode$", lines["mode"])
    assert re.match(r"request_timeout = 7s +# env PEZ_REQUEST_TIMEOUT$", lines["request_timeout"])
    assert re.match(r"header_limit = 8192 +# default$", lines["header_limit"])
    assert "filesecret" not in r.stdout and "urlsecret" not in r.stdout
    assert re.match(r"db_password = \*+ +# file", lines["db_password"])
    assert "postgresql://pez:********@db1,db2/pez" in lines["database_url"]
    assert f"# config file: {conf}" in r.stdout
    # Every setting pezd --help offers is printed.
    help_text = pezd_tool(["--help"]).stdout
    flags = set(re.findall(r"--([a-z][a-z-]+)", help_text)) - {"help", "version", "config", "print-config",
                                                                "check-config"}
    assert flags <= {key.replace("_", "-") for key in lines}, flags - set(lines)


def settings_of(print_config_output):
    """key -> value of pezd --print-config's lines, without their comments."""
    out = {}
    for line in print_config_output.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split(" = ", 1)
            out[key] = value.rsplit("  # ", 1)[0].strip()
    return out


def test_print_config_output_reads_back_as_a_config_file(workdir):
    # pezd --print-config > x.conf; pezd --config x.conf --check-config
    first = pezd_tool(["--print-config", "--http", "127.0.0.1:8014", "--max-count", "7"],
                      {"PEZ_CONFIG": "", "PEZ_DB_NAME": "odd # name", "PEZ_DB_USERNAME": ' "quoted" '})
    assert first.returncode == 0, first
    conf = os.path.join(workdir, "x.conf")
    with open(conf, "w") as f:
        f.write(first.stdout)
    check = pezd_tool(["--config", conf, "--check-config"])
    assert check.returncode == 0, check
    again = pezd_tool(["--config", conf, "--print-config"])
    assert again.returncode == 0, again
    assert settings_of(again.stdout) == settings_of(first.stdout)


def test_quoted_values_with_a_comment_after_them(workdir):
    conf = os.path.join(workdir, "q.conf")
    with open(conf, "w") as f:
        f.write('http = "127.0.0.1:8014" # where\nmax_count = 7 # most\n')
    r = pezd_tool(["--config", conf, "--print-config"])
    assert r.returncode == 0, r
    values = settings_of(r.stdout)
    assert (values["http"], values["max_count"]) == ("127.0.0.1:8014", "7")


def test_a_masked_secret_read_back_is_refused(workdir):
    conf = os.path.join(workdir, "pezd.conf")
    with open(conf, "w") as f:
        f.write("db_password = hunter2-xyzzy\n")
    printed = pezd_tool(["--config", conf, "--print-config"]).stdout
    assert "hunter2-xyzzy" not in printed
    with open(conf, "w") as f:
        f.write(printed)
    r = pezd_tool(["--config", conf, "--check-config"])
    assert r.returncode == 78, r
    assert "db_password" in r.stderr and "--print-config" in r.stderr and "put the password back" in r.stderr


def test_check_config_says_valid_or_names_the_problem(workdir):
    conf = os.path.join(workdir, "pezd.conf")
    with open(conf, "w") as f:
        f.write("max_count = 250\n")
    good = pezd_tool(["--config", conf, "--check-config"])
    assert good.returncode == 0, good
    assert good.stdout == f"pezd: the settings are valid (config file: {conf})\n"
    with open(conf, "a") as f:
        f.write("mode = quick\n")
    bad = pezd_tool(["--config", conf, "--check-config"])
    assert bad.returncode == 78
    assert bad.stdout == ""
    assert "mode" in bad.stderr and f"{conf}:2" in bad.stderr, bad.stderr
    group = pezd_tool(["--check-config", "--socket-group", "no-such-group-here"], {"PEZ_CONFIG": ""})
    assert group.returncode == 78
    assert "socket_group" in group.stderr and "no-such-group-here" in group.stderr
