# SPDX-License-Identifier: Apache-2.0
"""Shutdown and restart (DESIGN §7): SIGTERM answers or refuses every request it has read, and a
restart after SIGTERM or kill -9 never hands out again a number acknowledged before it. In both
allocation modes."""

import signal
import socket
import time

import pytest

from harness import signal_all, wait_until

MODES = ["strict", "block"]


def freeze(cluster):
    """Stops the daemons' backends (SIGSTOP); returns the function that lets them go on."""
    backends = [int(p) for p in cluster.psql("postgres", "SELECT pid FROM pg_stat_activity WHERE "
                                                         "application_name = 'pezd'").split()]
    signal_all(backends, signal.SIGSTOP)
    return lambda: signal_all(backends, signal.SIGCONT)


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_answers_every_request_it_has_read(start_pezd, cluster, mode):
    pezd = start_pezd(["--mode", mode, "--request-timeout", "3s"])
    before = pezd.numbers("forward", 10)
    lines = pezd.lines(timeout=20)
    host, port = pezd.address.rsplit(":", 1)
    web = socket.create_connection((host, int(port)), timeout=20)
    thaw = freeze(cluster)  # strict requests stay in flight; block ones are served from memory
    try:
        lines.send("".join(f"NEXT forward {n}\n" for n in range(1, 21)))
        web.sendall(b"GET /v2/forward?count=3 HTTP/1.1\r\nHost: t\r\n\r\n" * 10)
        time.sleep(0.5)  # all read by pezd (pipeline_limit is 64)
        pezd.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    finally:
        thaw()
    answers = [lines.read_line() for _ in range(20)]
    acknowledged = []
    for n, answer in enumerate(answers, start=1):
        if answer.startswith("OK "):
            numbers = [int(x) for x in answer[3:].split()]
            assert len(numbers) == n
            acknowledged += numbers
        else:
            assert answer.startswith("ERR unavailable "), answer
    assert lines.closed_by_peer(timeout=10)
    text = b""
    while True:
        chunk = web.recv(65536)
        if not chunk:
            break
        text += chunk
    replies = text.decode().split("HTTP/1.1 ")[1:]
    assert len(replies) == 10, text
    for reply in replies:
        assert reply.startswith("200 ") or (reply.startswith("503 ") and "Retry-After" in reply), reply
        if reply.startswith("200 "):
            acknowledged += [int(x) for x in reply.split("\r\n\r\n", 1)[1].strip("[]\n").split(", ")]
    assert pezd.proc.wait(15) == 0
    assert len(set(acknowledged)) == len(acknowledged)

    pezd.restart()
    after = pezd.numbers("forward", 10)
    assert min(after) > max(before + acknowledged)


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_and_restart_never_hands_out_a_number_again(start_pezd, mode):
    pezd = start_pezd(["--mode", mode])
    acknowledged = []
    for _ in range(5):
        acknowledged += pezd.numbers("forward", 50)
        acknowledged += pezd.numbers("reverse", 50)
        acknowledged += [int(x) for x in pezd.lines().ask("NEXT forward 7")[3:].split()]
        pezd.kill9()
        pezd.restart()
        assert "removed the stale socket" in pezd.new_log()
    forward = [n for n in acknowledged if n < 1 << 62]
    reverse = [n for n in acknowledged if n >= 1 << 62]
    later_forward = pezd.numbers("forward", 20)
    later_reverse = pezd.numbers("reverse", 20)
    assert min(later_forward) > max(forward)
    assert max(later_reverse) < min(reverse)
    assert len(set(acknowledged)) == len(acknowledged)


def test_a_second_sigterm_closes_everything_at_once(start_pezd, cluster):
    pezd = start_pezd(["--mode", "strict", "--request-timeout", "20s"])
    lines = pezd.lines(timeout=30)
    thaw = freeze(cluster)
    try:
        lines.send("NEXT forward\n")
        time.sleep(0.3)
        pezd.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert pezd.proc.poll() is None  # waiting for the request in flight
        pezd.send_signal(signal.SIGTERM)
        wait_until(lambda: pezd.proc.poll() is not None, 10, what="pezd to stop on the second SIGTERM")
    finally:
        thaw()
    assert pezd.proc.returncode == 0
    assert lines.closed_by_peer(timeout=5)
    assert "second stop signal" in pezd.log_text()
