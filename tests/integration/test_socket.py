# SPDX-License-Identifier: Apache-2.0
"""The Unix socket line protocol of DESIGN §4 and pezd(8)."""

import os
import re
import stat

from harness import FORWARD_MAX


def test_socket_file_is_0660(pezd):
    mode = os.stat(pezd.socket).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660


def test_hello_next_ping_status_quit(pezd):
    c = pezd.lines()
    hello = c.ask("HELLO 1")
    assert re.fullmatch(r"OK 1 pezd \d+\.\d+\.\d+", hello), hello
    assert c.ask("NEXT forward 3") == "OK 1 2 3"
    assert c.ask("NEXT forward") == "OK 4"
    assert c.ask("next reverse 2") == f"OK {FORWARD_MAX} {FORWARD_MAX - 1}"
    assert c.ask("PING") == "OK pong"
    status = c.ask("STATUS")
    assert status.startswith("OK {")
    import json
    body = json.loads(status[3:])
    assert body["ready"] is True
    assert body["database"]["up"] is True
    assert c.ask("QUIT") == "OK bye"
    assert c.closed_by_peer()


def test_errors_have_a_code_and_a_message(pezd):
    c = pezd.lines()
    cases = {
        "FROB": "ERR bad-request ",
        "NEXT": "ERR bad-request ",
        "NEXT forward 0": "ERR bad-request count must be a whole number from 1 to 100",
        "NEXT forward 101": "ERR bad-request count must be a whole number from 1 to 100",
        "NEXT forward abc": "ERR bad-request ",
        "NEXT Bad": "ERR bad-request ",
        "NEXT nosuch": 'ERR not-found no sequence named "nosuch"',
        "HELLO 2": "ERR unsupported-version ",
        "": "ERR bad-request ",
    }
    for line, start in cases.items():
        answer = c.ask(line)
        assert answer.startswith(start), (line, answer)
    # The connection is still usable after ordinary errors.
    assert c.ask("NEXT forward") == "OK 1"


def test_crlf_lines_are_accepted(pezd):
    c = pezd.lines()
    c.send("NEXT forward 2\r\n")
    assert c.read_line() == "OK 1 2"


def test_pipelined_lines_are_answered_in_order(pezd):
    c = pezd.lines()
    lines = []
    for i in range(200):
        lines.append("NEXT forward 2" if i % 3 else "PING")
    c.send("".join(line + "\n" for line in lines))
    expected_next = 1
    for line in lines:
        answer = c.read_line()
        if line == "PING":
            assert answer == "OK pong"
        else:
            assert answer == f"OK {expected_next} {expected_next + 1}"
            expected_next += 2


def test_an_overlong_line_gets_an_error_and_a_close(start_pezd):
    pezd = start_pezd(["--line-limit", "128"])
    c = pezd.lines()
    c.send("NEXT " + "a" * 500 + "\n")
    answer = c.read_line()
    assert answer.startswith("ERR too-large "), answer
    assert "line_limit" in answer
    assert c.closed_by_peer()


def test_control_bytes_get_an_error_and_a_close(pezd):
    c = pezd.lines()
    c.send(b"NEXT forward\x00\x01\n")
    assert c.read_line().startswith("ERR bad-request ")
    assert c.closed_by_peer()


def test_a_last_line_without_newline_is_still_answered(pezd):
    c = pezd.lines()
    c.send("NEXT forward 2")
    c.sock.shutdown(1)  # SHUT_WR
    assert c.read_line() == "OK 1 2"
    assert c.closed_by_peer()


def test_idle_socket_connections_are_closed(start_pezd):
    pezd = start_pezd(["--idle-timeout", "1s"])
    c = pezd.lines()
    assert c.closed_by_peer(timeout=10)


def test_socket_group_setting(start_pezd):
    pezd = start_pezd(["--socket-group", "nogroup"])
    import grp
    assert os.stat(pezd.socket).st_gid == grp.getgrnam("nogroup").gr_gid


def test_socket_and_http_share_one_sequence(pezd):
    c = pezd.lines()
    assert c.ask("NEXT forward") == "OK 1"
    assert pezd.get("/v1/forward").body == "2\n"
    assert c.ask("NEXT forward") == "OK 3"
