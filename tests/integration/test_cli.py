# SPDX-License-Identifier: Apache-2.0
"""The pez command line of DESIGN §3: output for scripts, one error line, documented exit codes."""

import os
import re
import shutil
import socket
import subprocess

import pytest

from harness import FORWARD_MAX, PEZ, assert_one_error_line, run_pez, short_tempdir


def test_forward_prints_numbers_one_per_line(pezd):
    r = pezd.pez("forward", "-n", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1\n2\n3\n4\n5\n"
    assert r.stderr == ""


def test_default_is_one_number(pezd):
    assert pezd.pez("forward").stdout == "1\n"
    assert pezd.pez("reverse").stdout == f"{FORWARD_MAX}\n"


def test_next_names_a_sequence(pezd):
    assert pezd.pez("next", "forward", "-n", "3").stdout == "1\n2\n3\n"
    assert pezd.pez("next", "reverse", "--count", "2").stdout == f"{FORWARD_MAX}\n{FORWARD_MAX - 1}\n"


def test_json_prints_the_v2_list(pezd):
    assert pezd.pez("forward", "-n", "3", "--json").stdout == "[1, 2, 3]\n"
    assert pezd.pez("reverse", "--json").stdout == f"[{FORWARD_MAX}]\n"


def test_socket_flag_and_environment(pezd):
    r = run_pez(["--socket", pezd.socket, "forward"])
    assert r.stdout == "1\n", r.stderr
    r = run_pez(["forward"], env={"PEZ_SOCKET": pezd.socket})
    assert r.stdout == "2\n", r.stderr
    r = run_pez(["forward", "--socket", pezd.socket])
    assert r.stdout == "3\n", r.stderr


def test_help_and_version():
    r = run_pez(["--help"])
    assert r.returncode == 0
    assert "forward" in r.stdout and "Exit codes" in r.stdout
    r = run_pez(["forward", "--help"])
    assert r.returncode == 0
    assert "--count" in r.stdout
    r = run_pez(["--version"])
    assert r.returncode == 0
    assert r.stdout.startswith("pez ")
    # Alone, --version and --help are answered without parsing the command line: the same words
    # as among other options.
    assert r.stdout == run_pez(["--socket", "/nonexistent", "--version"]).stdout
    assert run_pez(["-h"]).stdout == run_pez(["--help"]).stdout == run_pez(["--timeout", "5s", "--help"]).stdout


@pytest.mark.parametrize("args", [["forward", "-n", "0"], ["forward", "-n", "abc"], ["forward", "-n", "-3"],
                                  ["forward", "-n", "101"], ["next", "Bad"], ["next", "a;b"], ["next"],
                                  ["forward", "--frobnicate"], ["frobnicate"], []])
def test_usage_errors_exit_64(pezd, args):
    assert_one_error_line(pezd.pez(*args), 64)


def test_count_above_the_daemons_maximum_exits_64_and_says_the_limit(start_pezd):
    pezd = start_pezd(["--max-count", "10"])
    assert_one_error_line(pezd.pez("forward", "-n", "11"), 64, "1 to 10")
    assert pezd.pez("forward", "-n", "10").returncode == 0


def test_unknown_sequence_exits_1(pezd):
    assert_one_error_line(pezd.pez("next", "nosuch"), 1, '"nosuch"')


def test_no_daemon_exits_69(workdir):
    missing = os.path.join(workdir, "nobody-here.sock")
    assert_one_error_line(run_pez(["forward"], socket_path=missing), 69, missing)


def test_stale_socket_exits_69(workdir):
    path = os.path.join(workdir, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens
    assert_one_error_line(run_pez(["forward"], socket_path=path), 69)


def test_permission_denied_exits_77(pezd):
    # A user outside the socket's group (root's, mode 0660) may not connect.
    tmp = short_tempdir()
    try:
        binary = os.path.join(tmp, "pez")
        shutil.copy(PEZ, binary)
        os.chmod(binary, 0o755)
        r = run_pez(["forward"], socket_path=pezd.socket, binary=binary, user="nobody")
        assert_one_error_line(r, 77, "permission denied")
    finally:
        shutil.rmtree(tmp)


def test_database_down_exits_75(start_pezd, cluster):
    pezd = start_pezd(["--request-timeout", "2s"])
    cluster.stop()
    r = pezd.pez("forward")
    assert_one_error_line(r, 75, "database")
    cluster.start()


def test_a_closed_standard_output_takes_no_number(pezd):
    # pez forward >&- : the socket must not become descriptor 1, and no number is taken for an
    # output that would lose it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_SOCKET"] = pezd.socket
    r = subprocess.run(["bash", "-c", '"$0" forward >&-', PEZ], capture_output=True, text=True, env=env,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert_one_error_line(r, 1, "standard output is closed")
    assert "bad-request" not in pezd.log_text()
    assert pezd.pez("forward").stdout == "1\n"  # nothing was taken


def test_a_full_standard_output_says_why_and_that_the_numbers_taken_are_lost(pezd):
    # pez forward -n 3 >/dev/full: the numbers were taken before the write failed. They are never
    # handed out again, and the error says so and why the write failed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_SOCKET"] = pezd.socket
    r = subprocess.run(["bash", "-c", '"$0" forward -n 3 >/dev/full', PEZ], capture_output=True, text=True,
                       env=env, timeout=30, stdin=subprocess.DEVNULL)
    assert_one_error_line(r, 1, "cannot write the numbers to standard output: No space left on device")
    assert "3 numbers taken are lost" in r.stderr, r.stderr
    assert pezd.pez("forward").stdout == "4\n"
    # Any other output says why too, --help and --version as well.
    for args in ("status", "--help", "--version", "help forward"):
        r = subprocess.run(["bash", "-c", f'"$0" {args} >/dev/full', PEZ], capture_output=True, text=True,
                           env=env, timeout=30, stdin=subprocess.DEVNULL)
        assert_one_error_line(r, 1, "cannot write to standard output: No space left on device")


def test_closed_standard_input_and_error_do_not_matter(pezd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    env["PEZ_SOCKET"] = pezd.socket
    r = subprocess.run(["bash", "-c", '"$0" forward <&- 2>&-', PEZ], capture_output=True, text=True, env=env,
                       timeout=30)
    assert (r.returncode, r.stdout) == (0, "1\n")
    assert "bad-request" not in pezd.log_text()


@pytest.mark.parametrize("args,message", [
    (["forwrad"], 'unknown command "forwrad"; did you mean "forward"?'),
    (["admin", "lst"], 'unknown command "lst" for pez admin; did you mean "list"?'),
    (["forward", "--cont", "3"], 'unknown option "--cont" for pez forward; did you mean "--count"?'),
    (["--sokcet", "/x", "forward"], 'unknown option "--sokcet" for pez; did you mean "--socket"?'),
    (["next"], "pez next needs NAME"),
    (["admin", "reset"], "pez admin reset needs NAME"),
    (["admin"], "pez admin needs a command: list, inspect, reset, create and drop"),
    ([], "no command given; the commands are forward, reverse, next, check, admin, status and help"),
    (["forward", "3"], 'unexpected argument "3" for pez forward; for 3 numbers, use -n 3'),
    (["forward", "-n"], "option -n needs a value"),
    (["forward", "--json=maybe"], "option --json takes no value"),
    (["help", "frobnicate"], 'unknown command "frobnicate"'),
])
def test_usage_errors_say_what_is_wrong_in_pezs_words(args, message):
    r = run_pez(args)
    assert_one_error_line(r, 64, message)
    for library_words in ("A subcommand is required", "not expected", "Could not convert", "is required"):
        assert library_words not in r.stderr, r.stderr


def test_every_count_error_has_one_wording(pezd):
    wording = "count must be a whole number from 1 to "
    for count in ("0", "abc", "-3", "101", "99999999999"):
        assert_one_error_line(pezd.pez("forward", "-n", count), 64, wording)
    c = pezd.lines()
    assert c.ask("NEXT forward 0").startswith("ERR bad-request " + wording)
    c.close()
    for query in ("count=0", "count=abc", "count=", "count", "0"):
        r = pezd.get(f"/v2/forward?{query}")
        assert r.status == 400 and r.json()["error"].startswith(wording), (query, r)


def test_help_command_explains_pez_and_each_command():
    top = run_pez(["help"])
    assert (top.returncode, top.stderr) == (0, "")
    assert top.stdout == run_pez(["--help"]).stdout
    for command in (["forward"], ["next"], ["admin"], ["admin", "reset"], ["status"], ["help"]):
        r = run_pez(["help", *command])
        assert (r.returncode, r.stderr) == (0, ""), command
        assert r.stdout == run_pez([*command, "--help"]).stdout, command
        assert "Usage: pez " + " ".join(command) in r.stdout


def test_an_empty_socket_path_is_a_usage_error():
    assert_one_error_line(run_pez(["--socket", "", "forward"]), 64, "socket path is empty")


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_a_socket_path_that_is_not_a_socket_says_so(workdir, kind):
    path = os.path.join(workdir, "not-a-socket")
    if kind == "directory":
        os.mkdir(path)
    else:
        open(path, "w").close()
    r = run_pez(["forward"], socket_path=path)
    assert_one_error_line(r, 69, f"{path} is not a socket but a {'directory' if kind == 'directory' else 'regular file'}")
    assert "refused" not in r.stderr


# pez takes the numbers of a plain forward, reverse or next itself and hands every other command
# line to pez-cli, the whole pez: both must read each command line alike.
PEZ_CLI = os.path.join(os.path.dirname(PEZ), "pez-cli")


@pytest.mark.parametrize("args", [
    ["forward"], ["forward", "-n", "3"], ["forward", "--count=2", "--json"], ["reverse", "--json", "-n", "2"],
    ["next", "tick", "-n", "2"], ["next", "-n", "2", "tick"], ["next", "forward"], ["next", "status"],
    ["next", "--", "tick"], ["forward", "--timeout", "5s", "-n", "2"], ["--timeout=5s", "reverse"],
    ["forward", "-n", "0"], ["forward", "-n", "101"], ["forward", "-n", ""], ["forward", "-n", "-3"],
    ["forward", "-n", "1", "-n", "2"], ["forward", "-n"], ["-n", "2", "forward"], ["forward", "--json", "--json"],
    ["forward", "extra"], ["next"], ["next", "a", "b"], ["next", "Bad_Name"], ["next", "nosuch"],
    ["--timeout", "0", "forward"], ["forward", "--timeout", "5s", "--timeout", "5s"], ["forward", "-n5"],
])
def test_pez_and_the_whole_pez_read_a_command_line_alike(pezd, args):
    pezd.pez("admin", "create", "tick")
    front = run_pez(["--socket", pezd.socket, *args])
    whole = run_pez(["--socket", pezd.socket, *args], binary=PEZ_CLI)
    assert (front.returncode, front.stderr) == (whole.returncode, whole.stderr), args
    # Each took its own numbers: as many, in the same shape.
    assert front.stdout.count("\n") == whole.stdout.count("\n"), (front.stdout, whole.stdout)
    assert front.stdout.startswith("[") == whole.stdout.startswith("["), (front.stdout, whole.stdout)
    if front.returncode == 0 and not front.stdout.startswith("["):
        taken = [int(n) for n in front.stdout.split()] + [int(n) for n in whole.stdout.split()]
        assert taken == sorted(set(taken), reverse="reverse" in args), taken


def test_pez_takes_plain_numbers_by_itself_and_needs_pez_cli_for_the_rest(pezd):
    # pez alone, away from pez-cli.
    tmp = short_tempdir()
    try:
        binary = os.path.join(tmp, "pez")
        shutil.copy(PEZ, binary)
        r = run_pez(["forward", "-n", "2"], socket_path=pezd.socket, binary=binary)
        assert (r.returncode, r.stdout, r.stderr) == (0, "1\n2\n", "")
        r = run_pez(["status"], socket_path=pezd.socket, binary=binary)
        if r.returncode == 0:
            pytest.skip("a pez-cli is installed where this build looks for it")
        assert_one_error_line(r, 1, "the rest of pez")
        # Where this build looks when none is beside it: the libexec directory of its prefix.
        looked = re.search(r"cannot run (/\S*/libexec/pez/pez-cli), the rest of pez: ", r.stderr)
        assert looked and not os.path.exists(looked.group(1)), r.stderr
        assert "reinstall pez" in r.stderr
        # Beside it, pez-cli answers.
        shutil.copy(PEZ_CLI, os.path.join(tmp, "pez-cli"))
        r = run_pez(["status"], socket_path=pezd.socket, binary=binary)
        assert r.returncode == 0 and "ready" in r.stdout, r.stderr
    finally:
        shutil.rmtree(tmp)
