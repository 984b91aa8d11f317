# SPDX-License-Identifier: Apache-2.0
"""Secret files (pezd.conf(5)): the admin token file must be private to pezd's user, its token is
the first line without trailing white space, and db_password_file gives its first line."""

import os
import re

import pytest

from harness import IS_ROOT, PEZD, wait_until

TOKEN = "s3cret-token-0123456789abcdef"
# A uid with no entry in the user database.
STRANGER_UID = 54321


def run_pezd(workdir, args, timeout=10, env=None):
    import subprocess
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}, **(env or {})}
    env["PEZ_CONFIG"] = ""
    return subprocess.run([PEZD, "--socket", os.path.join(workdir, "x.sock")] + args, capture_output=True,
                          text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def write_file(workdir, name, text, mode=0o600):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o610], ids=lambda m: f"{m:04o}")
def test_a_token_file_its_group_or_others_may_use_stops_pezd(workdir, mode):
    path = write_file(workdir, "admin-token", TOKEN + "\n", mode)
    r = run_pezd(workdir, ["--admin-token-file", path])
    assert r.returncode == 78, r
    assert r.stderr.startswith("pezd: error: ") and len(r.stderr.splitlines()) == 1, r.stderr
    assert "admin_token_file" in r.stderr and path in r.stderr, r.stderr
    assert f"mode {mode:04o}" in r.stderr and f"chmod 600 {path}" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(workdir, "x.sock"))


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give the file to another uid")
def test_a_token_file_owned_by_another_user_stops_pezd(workdir):
    path = write_file(workdir, "admin-token", TOKEN + "\n", 0o600)
    os.chown(path, STRANGER_UID, -1)
    r = run_pezd(workdir, ["--admin-token-file", path])
    assert r.returncode == 78, r
    assert "admin_token_file" in r.stderr and path in r.stderr, r.stderr
    assert f"uid {STRANGER_UID}" in r.stderr and "chown" in r.stderr, r.stderr


def test_the_token_is_the_first_line_without_trailing_white_space(start_pezd, workdir):
    path = write_file(workdir, "admin-token", TOKEN + " \t\r\n  \n", 0o400)
    pezd = start_pezd(["--admin-token-file", path])
    r = pezd.get("/admin/sequences/forward", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status == 200, r
    assert r.json()["name"] == "forward"
    assert pezd.get("/admin/sequences/forward", headers={"Authorization": f"Bearer {TOKEN[:-1]}"}).status == 401


@pytest.mark.parametrize("text", ["", "\n", "  \t\r\n", "\n" + TOKEN + "\n"])
def test_an_empty_token_stops_pezd(workdir, text):
    path = write_file(workdir, "admin-token", text)
    r = run_pezd(workdir, ["--admin-token-file", path])
    assert r.returncode == 78, r
    assert "admin_token_file" in r.stderr and path in r.stderr and "no token" in r.stderr, r.stderr
    assert "openssl rand" in r.stderr, r.stderr


@pytest.fixture
def password_role(cluster):
    """A role that must give its password (scram-sha-256 in pg_hba.conf) on a database of its own."""
    # A role of its own each time: an earlier one still owns its database.
    password_role.count = getattr(password_role, "count", 0) + 1
    role, password = f"pez_pw_test{os.getpid()}_{password_role.count}", "first-line-Pa55"
    cluster.psql("postgres", f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    database = cluster.create_database(owner=role)
    hba = os.path.join(cluster.data, "pg_hba.conf")
    with open(hba) as f:
        original = f.read()
    try:
        with open(hba, "w") as f:
            f.write(f"local {database} {role} scram-sha-256\n" + original)
        cluster.pg_ctl("reload")
        yield role, password, database
    finally:
        with open(hba, "w") as f:
            f.write(original)
        cluster.pg_ctl("reload")


def test_the_password_is_the_first_line_of_db_password_file(start_pezd, workdir, password_role):
    role, password, database = password_role
    # The role cannot connect without its password: a wrong one is refused.
    wrong = write_file(workdir, "wrong-password", "not-" + password + "\n")
    refused = start_pezd(env={"PEZ_DB_PASSWORD_FILE": wrong}, user=role, database=database, wait_ready=False)
    wait_until(lambda: "password authentication failed" in refused.log_text(), 10,
               what="the wrong password to be refused")
    assert refused.get("/readyz").status == 503
    refused.stop()

    path = write_file(workdir, "db-password", password + "\nsecond line, not part of it\n")
    pezd = start_pezd(env={"PEZ_DB_PASSWORD_FILE": path}, user=role, database=database, wait_ready=False)
    pezd.wait_ready(timeout=10)
    assert pezd.numbers("forward", 2) == [1, 2]


@pytest.mark.parametrize("text", ["", "\n", "\nthe password on the second line\n"])
def test_an_empty_first_line_of_db_password_file_stops_pezd(workdir, text):
    path = write_file(workdir, "db-password", text)
    r = run_pezd(workdir, ["--db-password-file", path])
    assert r.returncode == 78, r
    assert "db_password_file" in r.stderr and path in r.stderr and "first line" in r.stderr, r.stderr


def test_the_password_from_libpqs_passfile(start_pezd, workdir, password_role):
    role, password, database = password_role
    passfile = write_file(workdir, "pgpass", f"*:*:*:{role}:{password}\n")
    pezd = start_pezd(env={"PGPASSFILE": passfile}, user=role, database=database, wait_ready=False)
    pezd.wait_ready(timeout=10)
    assert pezd.numbers("forward", 1) == [1]


def test_the_password_from_the_systemd_credential(start_pezd, workdir, password_role):
    role, password, database = password_role
    credentials = os.path.join(workdir, "credentials")
    os.mkdir(credentials)
    write_file(credentials, "db-password", password + "\n")
    env = {"CREDENTIALS_DIRECTORY": credentials}
    pezd = start_pezd(env=env, user=role, database=database, wait_ready=False)
    pezd.wait_ready(timeout=10)
    assert pezd.numbers("forward", 1) == [1]
    printed = run_pezd(workdir, ["--print-config"], env=env).stdout
    assert re.search(r'^db_password = \*{8} +# systemd credential .*/credentials/db-password$', printed, re.M), printed
    assert password not in printed


def test_an_empty_credential_is_no_password(workdir):
    credentials = os.path.join(workdir, "credentials")
    os.mkdir(credentials)
    write_file(credentials, "db-password", "")
    printed = run_pezd(workdir, ["--print-config"], env={"CREDENTIALS_DIRECTORY": credentials}).stdout
    assert re.search(r'^db_password = "" +# default$', printed, re.M), printed
