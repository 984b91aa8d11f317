# SPDX-License-Identifier: Apache-2.0
"""The Debian package, built with cpack from the plain build: lintian finds no error; dpkg -i
installs it; the installed pezd, started the way pezd.service starts it (its ExecStartPre and
ExecStart, user and group, environment file, runtime directory, NOTIFY_SOCKET), serves the
installed pez against a private PostgreSQL; the unit files pass systemd-analyze; dpkg --purge
leaves nothing behind. The tests of this file run in order and share one installation."""

import configparser
import glob
import gzip
import os
import tempfile
import pwd
import grp
import re
import shlex
import shutil
import signal
import stat
import subprocess

import pytest

from conftest import BUILD, ROOT, run
import harness

PACKAGE = "pez"


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], check=False)
    return r.returncode == 0 and "installed" in r.stdout.split()


@pytest.fixture(scope="module")
def deb():
    for old in glob.glob(os.path.join(BUILD, "pez_*.deb")):
        os.remove(old)
    run(["cpack", "-G", "DEB"], cwd=BUILD)
    found = glob.glob(os.path.join(BUILD, "pez_*.deb"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def install(deb):
    if installed():
        pytest.fail("pez is already installed on this machine; the package test installs and purges its own: "
                    "dpkg --purge pez first if that installation may go")
    run(["dpkg", "-i", deb])
    files = [line for line in run(["dpkg", "-L", PACKAGE]).stdout.splitlines()]
    yield files
    if installed():
        run(["dpkg", "--purge", PACKAGE], check=False)


def unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    with open(path) as f:
        parser.read_string(f.read())
    return parser


def test_lintian_finds_no_error(deb):
    r = run(["lintian", "--fail-on", "error", deb], check=False)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr


def test_the_copyright_file_says_apache_2(deb):
    with tempfile.TemporaryDirectory() as tmp:
        run(["dpkg-deb", "-x", deb, tmp])
        with open(os.path.join(tmp, "usr", "share", "doc", "pez", "copyright")) as f:
            copyright = f.read()
    assert "License: Apache-2.0" in copyright and "/usr/share/common-licenses/Apache-2.0" in copyright


def test_the_package_holds_what_it_should(deb):
    listing = run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/sbin/pezd", "./usr/bin/pez", "./usr/libexec/pez/pez-cli", "./usr/share/man/man1/pez.1.gz",
                 "./usr/share/man/man8/pezd.8.gz", "./usr/share/man/man5/pezd.conf.5.gz",
                 "./lib/systemd/system/pezd.service", "./lib/systemd/system/pezd.socket",
                 "./usr/lib/sysusers.d/pez.conf", "./usr/lib/tmpfiles.d/pez.conf", "./etc/pez/pezd.conf",
                 "./etc/default/pezd", "./usr/share/pez/sql/001_init.sql", "./usr/share/pez/sql/003_admin.sql",
                 "./usr/share/bash-completion/completions/pez", "./usr/share/zsh/vendor-completions/_pez",
                 "./usr/share/pez/prometheus/pez-alerts.yml", "./usr/share/pez/prometheus/pez-alerts.test.yml",
                 "./usr/share/pez/grafana/pez-dashboard.json",
                 "./usr/share/doc/pez/copyright", "./usr/share/doc/pez/changelog.Debian.gz"):
        assert re.search(rf" {re.escape(path)}$", listing, re.M), f"{path} missing from the package:\n{listing}"
    # The database password for LoadCredential=: empty, and root's alone.
    assert re.search(r"^-rw------- root/root +0 .* \./etc/pez/db-password$", listing, re.M), listing
    version = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
    with open(os.path.join(ROOT, "packaging", "debian", "changelog")) as f:
        assert f.readline().startswith(f"pez ({version})")
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True, check=True).stdout
    conffiles = subprocess.run(["tar", "-xOf", "-", "./conffiles"], input=control, capture_output=True,
                               check=True).stdout.decode()
    assert conffiles.split() == ["/etc/pez/pezd.conf", "/etc/pez/db-password", "/etc/default/pezd"], conffiles


def test_install_creates_user_and_runtime_directory(install):
    user = pwd.getpwnam("pez")
    group = grp.getgrnam("pez")
    assert user.pw_gid == group.gr_gid
    assert user.pw_shell.endswith("nologin"), user
    st = os.stat("/run/pez")
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == user.pw_uid and stat.S_IMODE(st.st_mode) == 0o755
    # Enabled for the next boot, not started (pezd needs a database set up first).
    assert os.path.islink("/etc/systemd/system/multi-user.target.wants/pezd.service")


def test_man_pages_and_completion_are_installed(install):
    for page in ("/usr/share/man/man1/pez.1.gz", "/usr/share/man/man8/pezd.8.gz",
                 "/usr/share/man/man5/pezd.conf.5.gz"):
        r = run(["mandoc", "-T", "lint", "-W", "warning", page], check=False)
        assert r.returncode == 0 and r.stdout == "", (page, r.stdout, r.stderr)
        with gzip.open(page, "rt") as f:
            assert ".Sh NAME" in f.read()
    # bash-completion loads pez's completion on demand, as an interactive shell would.
    script = ("source /usr/share/bash-completion/bash_completion; _completion_loader pez; complete -p pez; "
              "COMP_WORDS=(pez admin ''); COMP_CWORD=2; COMP_LINE='pez admin '; COMP_POINT=${#COMP_LINE}; _pez; "
              "echo \"${COMPREPLY[*]}\"")
    r = run(["bash", "-c", script])
    assert "complete -F _pez pez" in r.stdout
    assert "list inspect reset create drop" in r.stdout


def test_unit_files_pass_systemd_analyze(install):
    r = run(["systemd-analyze", "verify", "/lib/systemd/system/pezd.service", "/lib/systemd/system/pezd.socket"],
            check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    problems = [line for line in r.stderr.splitlines() if "pezd" in line]
    assert not problems, r.stderr


def test_unit_exposure_is_at_most_2(install):
    r = run(["systemd-analyze", "security", "--offline=yes", "/lib/systemd/system/pezd.service"], check=False)
    match = re.search(r"Overall exposure level for pezd\.service: (\d+\.\d+)", r.stdout)
    assert match, r.stdout + r.stderr
    assert float(match.group(1)) <= 2.0, r.stdout


def environment_file(path):
    """KEY=value lines as systemd's EnvironmentFile= reads them."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip().strip('"')
    return env


def test_installed_pezd_runs_the_way_the_unit_starts_it(install):
    service = unit("/lib/systemd/system/pezd.service")["Service"]
    assert service["Type"] == "notify"
    assert "WatchdogSec" in service
    user, group = service["User"], service["Group"]
    env_path = service["EnvironmentFile"].lstrip("-")
    assert env_path == "/etc/default/pezd"

    cluster = harness.Cluster()
    workdir = harness.short_tempdir("pez-pkg-")
    proc = None
    log_path = os.path.join(workdir, "pezd.log")
    try:
        # A database and role for pezd, as README.Debian says; pezd creates the schema.
        cluster.psql("postgres", "CREATE ROLE pez LOGIN")
        cluster.psql("postgres", "CREATE DATABASE pez OWNER pez")
        # The administrator's settings: the database in the environment file, a setting in
        # the config file.
        with open(env_path, "a") as f:
            f.write(f"PEZ_DB_HOST={cluster.dir}\nPEZ_DB_NAME=pez\nPEZ_DB_USERNAME=pez\nPEZ_HTTP=127.0.0.1:0\n")
        with open("/etc/pez/pezd.conf", "a") as f:
            f.write("max_count = 250\n")

        # What systemd would do: the runtime directory, the environment, the user, the notify socket.
        runtime = f"/run/{service['RuntimeDirectory']}"
        os.makedirs(runtime, exist_ok=True)
        os.chown(runtime, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
        os.chmod(runtime, int(service["RuntimeDirectoryMode"], 8))
        notify = harness.NotifySocket(workdir)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"}
        env.update(environment_file(env_path))
        as_pez = dict(user=user, group=group, extra_groups=[], env=env)

        check = run(shlex.split(service["ExecStartPre"]), check=False, **as_pez)
        assert check.returncode == 0 and "the settings are valid (config file: /etc/pez/pezd.conf)" in check.stdout, \
            check
        printed = run(["/usr/sbin/pezd", "--print-config"], **as_pez).stdout
        assert re.search(r"^max_count = 250 +# file /etc/pez/pezd.conf:\d+$", printed, re.M), printed
        assert re.search(r"^db_name = pez +# env PEZ_DB_NAME$", printed, re.M), printed

        with open(log_path, "w") as log:
            proc = subprocess.Popen(shlex.split(service["ExecStart"]), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, **as_pez)
        ready = notify.wait_for("READY", timeout=30)
        assert notify.notices[ready - 1].get("STATUS", "").startswith("serving"), notify.notices
        notify.wait_for("WATCHDOG", timeout=5, after=ready)

        sock = "/run/pez/pezd.sock"
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_gid == grp.getgrnam("pez").gr_gid

        # The installed pez, with its default socket path.
        env_pez = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
        numbers = run(["/usr/bin/pez", "forward", "-n", "3"], env=env_pez).stdout.split()
        assert len(numbers) == 3 and [int(n) for n in numbers] == sorted(int(n) for n in numbers)
        too_many = run(["/usr/bin/pez", "forward", "-n", "251"], env=env_pez, check=False)
        assert too_many.returncode == 64, too_many
        status = run(["/usr/bin/pez", "status"], env=env_pez).stdout
        assert "ready" in status and "database" in status, status

        address = re.search(r"http listening on (\S+)", open(log_path).read()).group(1)
        r = harness.http_request(address, "GET", "/v1/forward")
        assert r.status == 200 and re.fullmatch(r"\d+\n", r.body), r

        proc.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING", timeout=5, after=ready)
        ready = notify.wait_for("READY", timeout=5, after=reloading)
        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING", timeout=5, after=ready)
        assert proc.wait(30) == 0, open(log_path).read()
        assert not os.path.exists(sock)
    except BaseException:
        if os.path.exists(log_path):
            print("----- log of the installed pezd -----\n" + open(log_path).read())
        raise
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        cluster.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def test_purge_leaves_nothing_behind(install):
    files = [path for path in install if not os.path.isdir(path)]
    assert "/usr/sbin/pezd" in files
    run(["dpkg", "--purge", PACKAGE])
    assert not installed()
    left = [path for path in files if os.path.lexists(path)]
    assert not left, left
    for path in ("/etc/pez", "/etc/default/pezd", "/run/pez", "/usr/share/pez",
                 "/etc/systemd/system/multi-user.target.wants/pezd.service"):
        assert not os.path.lexists(path), f"{path} is still there after dpkg --purge"
