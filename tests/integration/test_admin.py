# SPDX-License-Identifier: Apache-2.0
"""Sequence administration (DESIGN §3, §5, issue: named sequences): pez admin over the socket,
HTTP /admin/ with a bearer token, who may do it, hostile names, countdowns that run out, and
resets and drops reaching a second daemon."""

import concurrent.futures
import contextlib
import grp
import json
import os
import pwd
import re
import signal
import subprocess
import time

import pytest

from harness import (ADMIN_TOKEN, FORWARD_MAX, MODE, PEZ, PEZD, admin_token_file, assert_one_error_line, bearer,
                     raw_exchange, run_pez, split_responses, wait_until)

# OS users and groups of this run (named after its process, so that runs side by side do not
# share them), removed at the end of the tests that use them whatever happens.
RUN = os.getpid()
USER = f"pez-test-peer-{RUN}"
GROUP = f"pez-test-sock-{RUN}"
ADMIN_GROUP = f"pez-test-admin-{RUN}"
# A group made for one test and removed after it.
OWN_ADMIN_GROUP = f"pez-test-own-admin-{RUN}"
# A uid with no entry in the user database.
NO_PASSWD_UID = 54321


@contextlib.contextmanager
def os_group(name):
    """A system group, removed on leaving the block."""
    subprocess.run(["groupadd", "--system", name], check=True)
    try:
        yield name
    finally:
        remove_group(name)


def remove_group(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        return
    subprocess.run(["groupdel", name], check=True)


@pytest.fixture(scope="module")
def socket_group():
    with os_group(GROUP) as name:
        yield name


@pytest.fixture(scope="module")
def admin_group():
    with os_group(ADMIN_GROUP) as name:
        yield name


@pytest.fixture(scope="module")
def peer_user(socket_group, admin_group):
    """A second OS user in the socket's group, not an admin; removed after the module's tests."""
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups",
                    socket_group, USER], check=True)
    try:
        yield USER
    finally:
        subprocess.run(["userdel", USER], check=True)
        remove_group(USER)  # the group of its own that useradd made, unless userdel removed it


def admin_json(pezd, *args):
    r = pezd.pez("admin", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# --- the CLI over the socket ---------------------------------------------------------------

def test_list_json_parses_back_with_the_built_in_sequences(pezd):
    listed = admin_json(pezd, "list")
    by_name = {s["name"]: s for s in listed}
    assert by_name["forward"]["direction"] == "ascending"
    assert by_name["forward"]["max"] == FORWARD_MAX and by_name["forward"]["cycle"] is True
    assert by_name["reverse"]["direction"] == "descending" and by_name["reverse"]["next"] == FORWARD_MAX
    human = pezd.pez("admin", "list")
    assert human.returncode == 0 and human.stdout.startswith("NAME")
    assert "forward" in human.stdout and "reverse" in human.stdout


def test_create_serve_inspect_reset_drop(pezd):
    created = admin_json(pezd, "create", "tickets", "--start", "1000", "--description", "ticket numbers")
    assert created["name"] == "tickets" and created["start"] == 1000 and created["next"] == 1000
    assert created["description"] == "ticket numbers"
    assert pezd.pez("next", "tickets", "-n", "3").stdout == "1000\n1001\n1002\n"
    assert pezd.get("/v1/tickets").body == "1003\n"
    assert pezd.numbers("tickets", 2) == [1004, 1005]
    c = pezd.lines()
    assert c.ask("NEXT tickets 1") == "OK 1006"

    seen = admin_json(pezd, "inspect", "tickets")
    assert seen["last_value"] >= 1006 and seen["cycle"] is True
    assert seen["left"] == FORWARD_MAX - seen["next"] + 1
    human = pezd.pez("admin", "inspect", "tickets")
    assert "ticket numbers" in human.stdout and "next value:" in human.stdout

    # (What inspect shows after a reset may already count a block this daemon reserved since.)
    reset = admin_json(pezd, "reset", "tickets")
    assert reset["name"] == "tickets" and reset["reset_at"] is not None
    assert pezd.pez("next", "tickets").stdout == "1000\n"
    admin_json(pezd, "reset", "tickets", "--to", "5")
    assert pezd.get("/v1/tickets").body == "5\n"

    r = pezd.pez("admin", "drop", "tickets")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert pezd.get("/v1/tickets").status == 404
    assert_one_error_line(pezd.pez("next", "tickets"), 1, "no sequence named")
    assert_one_error_line(pezd.pez("admin", "inspect", "tickets"), 1, "tickets")


def test_descending_countdown_without_cycle_runs_out(pezd):
    created = admin_json(pezd, "create", "countdown", "--descending", "--max", "3", "--no-cycle")
    assert created["direction"] == "descending" and created["next"] == 3 and created["left"] == 3
    assert pezd.pez("next", "countdown", "-n", "3").stdout == "3\n2\n1\n"
    r = pezd.get("/v1/countdown")
    assert r.status == 409, r
    assert "does not cycle" in r.json()["error"]
    assert_one_error_line(pezd.pez("next", "countdown"), 1, "does not cycle")
    assert pezd.lines().ask("NEXT countdown").startswith("ERR exhausted ")
    assert admin_json(pezd, "inspect", "countdown")["exhausted"] is True
    admin_json(pezd, "reset", "countdown")
    assert pezd.pez("next", "countdown").stdout == "3\n"


def test_create_with_mode_and_bounds(pezd):
    created = admin_json(pezd, "create", "batches", "--min", "10", "--max", "20", "--increment", "5", "--mode", "block")
    assert (created["min"], created["max"], created["increment"], created["mode"], created["mode_from"]) == \
        (10, 20, 5, "block", "sequence")
    assert pezd.numbers("batches", 3) == [10, 15, 20]
    assert pezd.numbers("batches", 1) == [10]  # cycles


@pytest.mark.parametrize("args, words", [
    (["create", "tickets", "--min", "5", "--max", "5"], "below max"),
    (["create", "tickets", "--start", "50", "--max", "20"], "within"),
    (["create", "tickets", "--start", "0"], "whole number"),
    (["create", "tickets", "--start", "abc"], "whole number"),
    (["create", "tickets", "--mode", "fast"], "strict or block"),
    (["reset", "forward", "--to", "-3"], "whole number"),
])
def test_bad_input_is_a_usage_error(pezd, args, words):
    assert_one_error_line(pezd.pez("admin", *args), 64, words)


def test_existing_name_builtin_drop_and_missing_sequence_are_refused(pezd):
    admin_json(pezd, "create", "dup")
    assert_one_error_line(pezd.pez("admin", "create", "dup"), 1, "exists already")
    assert_one_error_line(pezd.pez("admin", "drop", "forward"), 1, "cannot be dropped")
    assert_one_error_line(pezd.pez("admin", "drop", "reverse"), 1, "cannot be dropped")
    assert_one_error_line(pezd.pez("admin", "drop", "nosuch"), 1, "nosuch")
    assert_one_error_line(pezd.pez("admin", "reset", "nosuch"), 1, "nosuch")
    assert_one_error_line(pezd.pez("admin", "reset", "dup", "--to", "99999999999999999999"), 64)


HOSTILE = ["a'b", "a;drop table x", "../etc", "x" * 49, "Upper", "", "a\nb", 'a"b', "1abc", "a b", "a%00"]


def test_hostile_names_are_refused_before_any_sql(cluster, db, pezd):
    """Refused by the name check (its message), so no statement carries them."""
    count_sql = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname = 'pez'")
    before = cluster.psql(db, count_sql).strip()
    rule = "a name is 1 to 48 characters"
    for name in HOSTILE:
        for args in (["create", name], ["drop", name], ["reset", name], ["inspect", name]):
            r = pezd.pez("admin", *args)
            assert_one_error_line(r, 64)
            assert rule in r.stderr or "NAME" in r.stderr or "name" in r.stderr, r.stderr
        if "\n" in name or not name.strip():
            continue
        c = pezd.lines()
        for line in (f"DROP {name}", f"RESET {name}", f"INSPECT {name}", "CREATE " + json.dumps({"name": name})):
            answer = c.ask(line)
            assert answer.startswith("ERR bad-request "), (line, answer)
            assert "name" in answer or " " in name, answer
    assert cluster.psql(db, count_sql).strip() == before


def test_socket_admin_requests_run_in_order_when_pipelined(pezd):
    c = pezd.lines()
    c.send("NEXT forward\nCREATE {\"name\": \"piped\", \"start\": 7}\nNEXT piped 2\nRESET piped\nNEXT piped\n"
           "DROP piped\nNEXT piped\n")
    answers = [c.read_line() for _ in range(7)]
    assert answers[0] == "OK 1"
    assert answers[1].startswith("OK {") and json.loads(answers[1][3:])["name"] == "piped"
    assert answers[2] == "OK 7 8"
    assert answers[3].startswith("OK {")
    assert answers[4] == "OK 7"
    assert answers[5] == 'OK {"dropped": "piped"}'  # as pezd(8) writes it
    assert answers[6].startswith("ERR not-found ")


def test_creates_in_a_row_go_to_the_database_together_and_answer_in_order(start_pezd, cluster, db):
    """Creates pipelined on one connection are given to the database together
    (pez.create_sequences: one statement, one commit), each apart: one refused changes nothing of
    the others, each answer is its own and in order, and what follows them runs after them."""
    cluster.psql("postgres", f'ALTER DATABASE "{db}" SET track_functions = \'pl\'')
    pezd = start_pezd()
    many = [f"q{i:02d}" for i in range(20)]
    c = pezd.lines()
    c.send('CREATE {"name": "pa"}\nCREATE {"name": "pa", "start": 3}\nCREATE {"name": "pb", "start": 5}\n'
           'CREATE {"name": "pc", "min": 10, "max": 5}\n'
           + "".join(f'CREATE {{"name": "{name}", "start": {i + 1}}}\n' for i, name in enumerate(many))
           + "NEXT pb 2\nLIST\n")
    answers = [c.read_line() for _ in range(4 + len(many) + 2)]
    assert json.loads(answers[0][3:])["name"] == "pa", answers[0]
    assert answers[1].startswith("ERR conflict ") and '"pa" exists' in answers[1], answers[1]
    assert json.loads(answers[2][3:])["start"] == 5, answers[2]
    assert answers[3].startswith("ERR bad-request "), answers[3]
    for i, name in enumerate(many):
        one = json.loads(answers[4 + i][3:])
        assert (one["name"], one["start"]) == (name, i + 1), answers[4 + i]
    assert answers[-2] == "OK 5 6"
    listed = {row["name"]: row for row in json.loads(answers[-1][3:])}
    assert {"pa", "pb", *many} <= listed.keys() and "pc" not in listed
    assert listed["pa"]["start"] == 1  # the first create of pa made it; the second changed nothing
    # Every create that reached the database ran in pez.create_sequence, fewer statements carried
    # them. (A connection sends its statistics when idle, within seconds.)
    sql = ("SELECT funcname, calls FROM pg_stat_user_functions WHERE schemaname = 'pez' "
           "AND funcname IN ('create_sequence', 'create_sequences')")
    calls = {}
    for _ in range(300):
        calls = dict(line.split("|") for line in cluster.psql(db, sql).split())
        if int(calls.get("create_sequence", 0)) >= 2 + len(many):
            break
        time.sleep(0.1)
    assert int(calls.get("create_sequence", 0)) >= 2 + len(many), calls
    assert 1 <= int(calls.get("create_sequences", 0)) < 2 + len(many), calls


# --- who may administer ----------------------------------------------------------------------

def test_a_peer_in_the_socket_group_but_not_admin_is_denied(start_pezd, workdir, peer_user):
    pezd = start_pezd(["--socket-group", GROUP])
    r = run_pez(["admin", "list"], socket_path=pezd.socket, user=peer_user)
    assert_one_error_line(r, 77, "permission denied")
    r = run_pez(["admin", "create", "mine"], socket_path=pezd.socket, user=peer_user)
    assert_one_error_line(r, 77, "permission denied")
    # Numbers stay open to the socket's group.
    r = run_pez(["forward", "-n", "2"], socket_path=pezd.socket, user=peer_user)
    assert r.returncode == 0 and len(r.stdout.split()) == 2, r.stderr
    assert "refused an admin request" in pezd.log_text()


def test_members_of_admin_group_may_administer(start_pezd, peer_user):
    subprocess.run(["usermod", "-a", "-G", ADMIN_GROUP, peer_user], check=True)
    try:
        pezd = start_pezd(["--socket-group", GROUP, "--admin-group", ADMIN_GROUP])
        r = run_pez(["admin", "create", "theirs", "--json"], socket_path=pezd.socket, user=peer_user)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["name"] == "theirs"
    finally:
        subprocess.run(["gpasswd", "-d", peer_user, ADMIN_GROUP], capture_output=True)


@pytest.fixture
def own_admin_group(peer_user):
    """A group made for this test, with peer_user a member of it in /etc/group; removed afterwards
    whatever happens."""
    with os_group(OWN_ADMIN_GROUP) as name:
        subprocess.run(["usermod", "-a", "-G", name, peer_user], check=True)
        yield name


def run_pez_with(credentials, socket_path, *args):
    """pez run by setpriv with the given uid, gid and supplementary groups."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_SOCKET"] = socket_path
    return subprocess.run(["setpriv", *credentials, PEZ, *args], capture_output=True, text=True, env=env,
                          timeout=30, stdin=subprocess.DEVNULL)


def test_admin_group_counts_the_peers_own_groups(start_pezd, peer_user, own_admin_group):
    """What counts is the groups the connecting process has (SO_PEERGROUPS), not what the user
    database says its user could have."""
    with pytest.raises(KeyError):
        pwd.getpwuid(NO_PASSWD_UID)
    admin_gid = grp.getgrnam(own_admin_group).gr_gid
    socket_gid = grp.getgrnam(GROUP).gr_gid
    pezd = start_pezd(["--socket-group", GROUP, "--admin-group", own_admin_group])

    # A uid the user database does not know, holding the admin group: admitted.
    r = run_pez_with([f"--reuid={NO_PASSWD_UID}", f"--regid={socket_gid}", f"--groups={admin_gid}"], pezd.socket,
                     "admin", "create", "by-group", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == "by-group"

    # A member of the admin group in /etc/group whose process dropped it: refused.
    r = run_pez_with([f"--reuid={peer_user}", f"--regid={socket_gid}", "--clear-groups"], pezd.socket,
                     "admin", "list")
    assert_one_error_line(r, 77, "permission denied")
    # The same user with the groups /etc/group gives it: admitted.
    r = run_pez_with([f"--reuid={peer_user}", f"--regid={socket_gid}", "--init-groups"], pezd.socket,
                     "admin", "inspect", "by-group")
    assert r.returncode == 0, r.stderr
    # Without the admin group, that uid is refused too; numbers stay open to the socket's group.
    r = run_pez_with([f"--reuid={NO_PASSWD_UID}", f"--regid={socket_gid}", "--clear-groups"], pezd.socket,
                     "admin", "drop", "by-group")
    assert_one_error_line(r, 77, "permission denied")
    r = run_pez_with([f"--reuid={NO_PASSWD_UID}", f"--regid={socket_gid}", "--clear-groups"], pezd.socket,
                     "next", "by-group")
    assert r.returncode == 0 and r.stdout == "1\n", r.stderr


def start_fails(workdir, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_CONFIG"] = ""
    return subprocess.run([PEZD, "--socket", os.path.join(workdir, "x.sock")] + args, capture_output=True,
                          text=True, env=env, timeout=10, stdin=subprocess.DEVNULL)


def test_unknown_admin_group_stops_pezd(workdir):
    r = start_fails(workdir, ["--admin-group", "no-such-group-here"])
    assert r.returncode == 78 and "admin_group" in r.stderr, r


# --- HTTP /admin/ ----------------------------------------------------------------------------

def test_http_admin_is_off_without_a_token_file(pezd):
    r = pezd.get("/admin/sequences", headers=bearer())
    assert r.status == 404 and "admin_token_file" in r.json()["error"]


def test_http_admin_needs_the_bearer_token(start_pezd, workdir):
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)])
    for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN},
                    {"Authorization": f"Bearer {ADMIN_TOKEN}x"}, {"Authorization": f"Basic {ADMIN_TOKEN}"}):
        r = pezd.get("/admin/sequences", headers=headers)
        assert r.status == 401, (headers, r)
        assert r.headers.get("www-authenticate", "").startswith("Bearer")
    r = pezd.get("/admin/sequences", method="POST", body=json.dumps({"name": "sneaky"}))
    assert r.status == 401
    assert pezd.get("/v1/sneaky").status == 404
    # Numbers need no token.
    assert pezd.get("/v1/forward").status == 200


def test_http_admin_routes(start_pezd, workdir):
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)])
    r = pezd.get("/admin/sequences", headers=bearer())
    assert r.status == 200 and {"forward", "reverse"} <= {s["name"] for s in r.json()}
    r = pezd.get("/admin/sequences", method="POST", headers=bearer(),
                 body=json.dumps({"name": "web", "start": 10, "max": 12, "cycle": False}))
    assert r.status == 201, r
    assert r.json()["next"] == 10
    assert pezd.numbers("web", 3) == [10, 11, 12]
    assert pezd.get("/v1/web").status == 409
    r = pezd.get("/admin/sequences/web", headers=bearer())
    assert r.status == 200 and r.json()["exhausted"] is True
    r = pezd.get("/admin/sequences/web/reset", method="POST", headers=bearer(), body=json.dumps({"to": 11}))
    assert r.status == 200 and r.json()["name"] == "web"
    assert pezd.get("/v1/web").body == "11\n"
    r = pezd.get("/admin/sequences/web/reset", method="POST", headers=bearer())
    assert r.status == 200
    assert pezd.get("/v1/web").body == "10\n"
    r = pezd.get("/admin/sequences", method="POST", headers=bearer(), body=json.dumps({"name": "web"}))
    assert r.status == 409
    r = pezd.get("/admin/sequences/web", method="DELETE", headers=bearer())
    assert r.status == 200 and r.json() == {"dropped": "web"}
    assert pezd.get("/admin/sequences/web", headers=bearer()).status == 404
    assert pezd.get("/admin/sequences/forward", method="DELETE", headers=bearer()).status == 409
    assert pezd.get("/admin/sequences/forward", method="PUT", headers=bearer()).status == 405
    for body in ("not json", "[1]", json.dumps({"name": "x", "colour": "red"}), json.dumps({"name": "Bad"}),
                 json.dumps({"name": "x", "min": 9, "max": 3}), json.dumps({"start": 5})):
        r = pezd.get("/admin/sequences", method="POST", headers=bearer(), body=body)
        assert r.status == 400, (body, r)
    for name in ("a%27b", "..%2F..", "UPPER", "x" * 49):
        assert pezd.get(f"/admin/sequences/{name}", headers=bearer()).status == 400



def test_http_admin_requests_run_alone_when_pipelined(start_pezd, workdir):
    """A reset pipelined between two GETs on one connection: the GET before it gets numbers from
    before the reset, the GET after it numbers from the reset value on (block mode holds a
    reserve from before the reset, strict mode may run both at once)."""
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)])
    r = pezd.get("/admin/sequences", method="POST", headers=bearer(), body=json.dumps({"name": "piped", "start": 5000}))
    assert r.status == 201, r
    assert pezd.numbers("piped", 1) == [5000]
    for round_ in range(1, 31):
        to = 9000 * round_
        reset_body = json.dumps({"to": to})
        requests = (b"GET /v2/piped?count=2 HTTP/1.1\r\nHost: t\r\n\r\n" +
                    f"POST /admin/sequences/piped/reset HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(reset_body)}\r\n\r\n"
                    f"{reset_body}".encode() +
                    b"GET /v2/piped?count=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answers = split_responses(raw_exchange(pezd.address, requests))
        assert [a[0] for a in answers] == [200, 200, 200], answers
        before = json.loads(answers[0][1])
        assert all(n < to for n in before), (round_, answers)
        assert json.loads(answers[1][1])["name"] == "piped"
        assert json.loads(answers[2][1]) == [to, to + 1, to + 2], (round_, answers)


def test_bad_token_file_stops_pezd(workdir):
    short = os.path.join(workdir, "short-token")
    with open(short, "w") as f:
        f.write("abc\n")
    os.chmod(short, 0o600)
    for path, words in ((short, "fewer than 16 characters"), (os.path.join(workdir, "missing"), "cannot read")):
        r = start_fails(workdir, ["--admin-token-file", path])
        assert r.returncode == 78 and "admin_token_file" in r.stderr and words in r.stderr, r


# --- a second daemon hears of resets and drops ----------------------------------------------

@pytest.mark.parametrize("seq_mode", ["strict", "block"])
def test_reset_and_drop_reach_a_second_daemon(start_pezd, seq_mode):
    a = start_pezd()
    b = start_pezd()
    admin_json(a, "create", "shared", "--mode", seq_mode)
    wait_until(lambda: b.get("/v1/shared").status == 200, 10, what="b to serve shared")
    taken = b.numbers("shared", 5)
    assert len(taken) == 5
    # b may hold a reserve (block): after the reset it must not hand out any of it.
    admin_json(a, "reset", "shared", "--to", "1000000")

    def b_after_reset():
        return b.numbers("shared", 1)[0] >= 1000000
    wait_until(b_after_reset, 10, what="b to hear of the reset")
    after = b.numbers("shared", 20) + a.numbers("shared", 20)
    assert all(n >= 1000000 for n in after), after
    assert len(set(after)) == len(after)

    a.pez("admin", "drop", "shared")
    wait_until(lambda: b.get("/v1/shared").status == 404, 10, what="b to hear of the drop")
    assert_one_error_line(b.pez("next", "shared"), 1, "no sequence named")


def test_a_daemon_cut_off_during_a_reset_drops_its_reserve_when_back(cluster, db, start_pezd):
    if MODE != "block":
        pytest.skip("only a block-mode daemon holds numbers")
    a = start_pezd()
    b = start_pezd()
    admin_json(a, "create", "offline", "--mode", "block")
    wait_until(lambda: b.get("/v1/offline").status == 200, 10, what="b to serve offline")
    assert int(b.get("/v1/offline").body) < 1000
    # b is frozen, its connections are cut and the reset happens: b misses the notice.
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        cluster.psql(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE application_name = 'pezd' AND datname = '{db}'")
        # a lost its connections too and reconnects on its own.
        wait_until(lambda: a.pez("admin", "reset", "offline", "--to", "5000000").returncode == 0, 15,
                   what="the reset through a")
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)

    def fresh():
        r = b.get("/v1/offline")
        return r.status == 200 and int(r.body) >= 5000000
    # Until b is back in touch with the database it may serve its reserve (pezd(8)); once it
    # reconnects, it compares generations and never serves the old numbers again.
    wait_until(fresh, 15, what="b to drop its stale reserve")
    later = [int(b.get("/v1/offline").body) for _ in range(20)]
    assert all(n >= 5000000 for n in later), later


# --- how much is left ----------------------------------------------------------------------

def test_wrap_warning_and_metrics(start_pezd):
    pezd = start_pezd(["--wrap-warning", "0.8"])
    admin_json(pezd, "create", "small", "--max", "10")
    assert pezd.numbers("small", 9) == list(range(1, 10))
    wait_until(lambda: "sequence small has used" in pezd.log_text(), 10, what="the wrap warning")
    assert pezd.numbers("small", 2) == [10, 1]
    wait_until(lambda: "sequence small wrapped" in pezd.log_text(), 10, what="the wrap notice")
    metrics = pezd.get("/metrics").body
    assert 'pez_sequence_used_ratio{sequence="small"}' in metrics
    listed = {s["name"]: s for s in admin_json(pezd, "list")}
    assert 0 <= listed["small"]["used"] <= 1 and listed["small"]["left"] <= 10

    admin_json(pezd, "create", "once", "--max", "2", "--no-cycle")
    assert pezd.numbers("once", 2) == [1, 2]
    assert pezd.get("/v1/once").status == 409
    wait_until(lambda: "sequence once has run out" in pezd.log_text(), 10, what="the run-out warning")


def test_bad_wrap_warning_stops_pezd(workdir):
    for bad in ("0", "1.5", "lots", "-0.2"):
        r = start_fails(workdir, ["--wrap-warning", bad])
        assert r.returncode == 78 and "wrap_warning" in r.stderr, r


def test_create_reset_and_drop_confirm_in_one_line_on_stderr(pezd):
    r = pezd.pez("admin", "create", "tickets", "--start", "1000", "--description", "ticket numbers")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "created tickets, next 1000\n")
    assert pezd.pez("next", "tickets", "-n", "2").stdout == "1000\n1001\n"
    r = pezd.pez("admin", "reset", "tickets")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    # In block mode the daemon may have reserved past 1002: "was at" is what the database says.
    assert re.fullmatch(r"reset tickets: was at (\d+), next 1000\n", r.stderr), r.stderr
    if MODE == "strict":
        assert r.stderr == "reset tickets: was at 1002, next 1000\n"
    r = pezd.pez("admin", "drop", "tickets")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "dropped tickets\n")


def test_every_admin_command_takes_json(pezd):
    assert admin_json(pezd, "create", "jobs")["name"] == "jobs"
    assert admin_json(pezd, "inspect", "jobs")["next"] == 1
    assert admin_json(pezd, "reset", "jobs", "--to", "7")["next"] == 7
    assert "jobs" in [s["name"] for s in admin_json(pezd, "list")]
    assert admin_json(pezd, "drop", "jobs") == {"dropped": "jobs"}


def test_inspect_and_list_count_the_pezd_connections_pg_stat_activity_shows(cluster, db, pezd):
    # Counted from pg_stat_get_activity without the view's joins: the view's number all the same.
    shown = int(cluster.psql(db, "SELECT count(*) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND application_name = 'pezd'"))
    assert shown >= 1
    assert admin_json(pezd, "inspect", "forward")["pezd_connections"] == shown
    assert {s["pezd_connections"] for s in admin_json(pezd, "list")} == {shown}
    assert admin_json(pezd, "create", "tickets")["pezd_connections"] == shown


def test_list_shows_descriptions_and_inspect_says_what_it_counts(pezd):
    admin_json(pezd, "create", "tickets", "--description", "ticket numbers")
    lines = pezd.pez("admin", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DIRECTION", "NEXT", "LEFT", "USED", "RATE", "ETA", "CYCLE", "MODE",
                                "DESCRIPTION"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["tickets"].endswith("  ticket numbers")
    forward = admin_json(pezd, "inspect", "forward")["description"]
    assert rows["forward"].endswith("  " + (forward or "-"))
    human = pezd.pez("admin", "inspect", "tickets").stdout
    assert "database connections of all pezd:" in human


def test_a_failed_admin_command_is_logged_with_what_it_was(cluster, db, start_pezd):
    # The database refuses (here a function changed by hand to fail): the log says which command
    # failed, and of which sequence, beside the reason users are given.
    pezd = start_pezd()
    cluster.psql(db, "CREATE OR REPLACE FUNCTION pez.sequence_state(seq_name text, OUT last_value bigint, "
                     "OUT is_called boolean) LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING "
                     "ERRCODE = 'internal_error', MESSAGE = 'state unreadable'; END $$")
    for args, what in ((["list"], "admin list failed: state unreadable"),
                       (["inspect", "forward"], "admin inspect of forward failed: state unreadable")):
        assert_one_error_line(pezd.pez("admin", *args), 1, "the database refused: state unreadable")
        wait_until(lambda: what in pezd.log_text(), 10, what=f"{what!r} in pezd's log")


def test_an_admin_command_waits_past_request_timeout_up_to_admin_timeout(cluster, db, start_pezd):
    # A transaction left open holds the sequence (an operator's ALTER SEQUENCE in psql): a reset
    # waits for its lock. Number requests give up after request_timeout; an admin command waits
    # on for admin_timeout, and happens once the lock is gone. Held past admin_timeout, it is
    # answered 75 saying so, and did not happen.
    pezd = start_pezd(["--request-timeout", "1s", "--admin-timeout", "5s"])
    assert pezd.pez("admin", "create", "held").returncode == 0
    assert pezd.numbers("held", 3) == [1, 2, 3]
    waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND query LIKE '%reset_sequence%' AND application_name <> 'transaction_left_open'")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with cluster.transaction_left_open(db, "ALTER SEQUENCE pez.held CACHE 1;", locks="pez.held"):
            reset = pool.submit(pezd.pez, "admin", "reset", "held")
            wait_until(lambda: cluster.psql(db, waiting) != "0", 10, what="the reset to wait for the lock")
            time.sleep(2.5)  # past request_timeout, twice over
            assert not reset.done(), reset.result()
        r = reset.result(timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("reset held:"), r.stderr
    assert pezd.numbers("held", 1) == [1]

    log_from = cluster.log_size()
    with cluster.transaction_left_open(db, "ALTER SEQUENCE pez.held CACHE 1;", locks="pez.held"):
        r = pezd.pez("admin", "reset", "held", "--to", "100")
        # The statement given up is cancelled, not left waiting for the lock (whereupon it would
        # happen all the same, as one whose cancel came too late may).
        wait_until(lambda: "canceling statement due to user request" in cluster.log_since(log_from), 10,
                   what="PostgreSQL to log the given-up reset as cancelled")
    assert_one_error_line(r, 75, "the database did not answer within 5s (admin_timeout)")
    assert pezd.numbers("held", 1) == [2]
