# SPDX-License-Identifier: Apache-2.0
"""The HTTP API of DESIGN §2, against a real pezd and PostgreSQL."""

import json
import re
import socket
import time

import pytest

from harness import FORWARD_MAX, metric, raw_exchange, read_responses, split_responses, wait_until


def test_v1_forward_is_a_bare_number_and_a_newline(pezd):
    r = pezd.get("/v1/forward")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert re.fullmatch(r"[1-9][0-9]*\n", r.body), r.body
    assert r.body == "1\n"  # a fresh database starts at 1
    assert pezd.get("/v1/forward").body == "2\n"


def test_v1_reverse_counts_down_from_the_top(pezd):
    assert pezd.get("/v1/reverse").body == f"{FORWARD_MAX}\n"
    assert pezd.get("/v1/reverse").body == f"{FORWARD_MAX - 1}\n"


def test_v2_is_always_a_list_in_the_original_shape(pezd):
    r = pezd.get("/v2/forward?count=5")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert re.fullmatch(r"\[\d+(, \d+){4}\]\n", r.body), r.body
    assert r.json() == [1, 2, 3, 4, 5]
    r = pezd.get("/v2/forward")
    assert re.fullmatch(r"\[\d+\]\n", r.body), r.body
    assert r.json() == [6]


def test_v2_reverse_descends(pezd):
    assert pezd.numbers("reverse", 20) == list(range(FORWARD_MAX, FORWARD_MAX - 20, -1))


def test_bare_number_query_means_count(pezd):
    assert len(pezd.get("/v2/forward?99").json()) == 99


def test_count_up_to_the_maximum(pezd):
    numbers = pezd.numbers("forward", 100)
    assert numbers == list(range(numbers[0], numbers[0] + 100))


@pytest.mark.parametrize("query", ["count=0", "count=101", "count=abc", "count=", "count=-1", "count=1.5",
                                   "count=1&count=2", "size=3", "count=3&extra=1", "0", "101", "count"])
def test_bad_counts_and_parameters_are_400_with_a_json_reason(pezd, query):
    r = pezd.get(f"/v2/forward?{query}")
    assert r.status == 400, r
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert "1 to 100" in error, error


def test_v1_takes_no_parameters(pezd):
    r = pezd.get("/v1/forward?count=5")
    assert r.status == 400
    assert "/v2/forward?count=N" in r.json()["error"]


def test_bad_requests_take_no_numbers(pezd):
    for query in ("count=0", "count=101", "x=1"):
        assert pezd.get(f"/v2/forward?{query}").status == 400
    assert pezd.get("/v1/forward").body == "1\n"


def test_as_string_gives_the_numbers_as_json_strings(pezd):
    r = pezd.get("/v1/reverse?as=string")
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json"
    assert r.body == f'"{FORWARD_MAX}"\n'
    assert r.json() == str(FORWARD_MAX)
    r = pezd.get("/v2/forward?count=2&as=string")
    assert r.status == 200, r
    assert r.body == '["1", "2"]\n'
    assert pezd.get("/v2/forward?as=string").body == '["3"]\n'
    assert pezd.get("/v2/forward?3&as=string").json() == ["4", "5", "6"]
    assert pezd.get("/v1/forward?as=string").body == '"7"\n'
    # The default stays bare numbers, and named sequences answer the same way.
    assert pezd.get("/v1/forward").body == "8\n"
    assert pezd.get("/v2/forward?count=2").body == "[9, 10]\n"
    assert pezd.pez("admin", "create", "tickets", "--start", "1000").returncode == 0
    assert pezd.get("/v2/tickets?count=2&as=string").json() == ["1000", "1001"]
    assert pezd.get("/v1/tickets?as=string").body == '"1002"\n'
    options = pezd.get("/v2/forward", method="OPTIONS").json()
    assert "as" in options["parameters"] and "count" in options["parameters"]
    assert "as" in pezd.get("/v1/forward", method="OPTIONS").json()["parameters"]


@pytest.mark.parametrize("target", ["/v1/forward?as=number", "/v1/forward?as=", "/v1/forward?as",
                                    "/v1/forward?as=STRING", "/v1/forward?as=string&as=string",
                                    "/v1/forward?as=string&count=2", "/v2/forward?as=int", "/v2/forward?count=2&as=",
                                    "/v2/forward?as=string&as=number", "/v2/forward?5&as=json",
                                    "/v2/forward?count=0&as=string", "/v2/forward?as=string&101"])
def test_a_bad_as_is_400_and_takes_no_number(pezd, target):
    for method in ("GET", "HEAD"):
        r = pezd.get(target, method=method)
        assert r.status == 400, (method, r)
        assert r.headers["content-type"] == "application/json"
    error = pezd.get(target).json()["error"]
    assert ("1 to 100" if "count=0" in target or "101" in target else "as=string") in error, error
    assert pezd.get("/v1/forward").body == "1\n"


@pytest.mark.parametrize("path", ["/WRONG_BANANAS", "/v3/forward", "/v1/", "/v1/nosuch", "/v2/nosuch?count=2",
                                  "/v1/Forward", "/v1/forward/", "/v1/../etc/passwd"])
def test_unknown_paths_and_sequences_are_404(pezd, path):
    r = pezd.get(path)
    assert r.status == 404, r
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(pezd, method):
    r = pezd.get("/v1/forward", method=method)
    assert r.status == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    assert r.json()["error"]
    assert pezd.get("/v1/forward").body == "1\n"


def test_options_describes_the_resource(pezd):
    r = pezd.get("/v2/forward", method="OPTIONS")
    assert r.status == 200
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    body = r.json()
    assert "description" in body and "verbs" in body
    assert "GET" in body["verbs"]


def test_head_answers_like_get_and_takes_no_number(pezd):
    r = pezd.get("/v1/forward", method="HEAD")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert r.body == ""
    assert pezd.get("/v1/forward").body == "1\n"
    assert pezd.get("/v1/nosuch", method="HEAD").status == 404
    assert pezd.get("/v2/forward?count=0", method="HEAD").status == 400



def test_keep_alive_serves_many_requests_on_one_connection(pezd):
    import http.client
    host, port = pezd.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    seen = []
    for _ in range(20):
        conn.request("GET", "/v1/forward")
        r = conn.getresponse()
        assert r.status == 200
        assert r.getheader("connection") is None or r.getheader("connection").lower() != "close"
        seen.append(int(r.read()))
    conn.close()
    assert seen == list(range(1, 21))


def test_pipelined_requests_are_answered_in_order(pezd):
    requests = b""
    for path in ["/v1/forward", "/v2/reverse?count=2", "/nosuch", "/v2/forward?count=3", "/v1/forward"]:
        requests += f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    requests += b"GET /v1/forward HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    answers = split_responses(raw_exchange(pezd.address, requests))
    assert [a[0] for a in answers] == [200, 200, 404, 200, 200, 200]
    assert answers[0][1] == "1\n"
    assert json.loads(answers[1][1]) == [FORWARD_MAX, FORWARD_MAX - 1]
    assert json.loads(answers[3][1]) == [2, 3, 4]
    assert answers[4][1] == "5\n"
    assert answers[5][1] == "6\n"


def test_many_requests_sent_at_once_on_a_busy_connection_are_all_answered(pezd):
    # After a first request the connection keeps a small read waiting (512 bytes); 300 requests
    # at once (12 KB) are read through it and the larger reads that follow, none lost or split.
    host, port = pezd.address.rsplit(":", 1)
    get = b"GET /v1/forward HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 10 + b"\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(get)
        [(status, body)] = read_responses(s, 1)
        assert status == 200
        s.sendall(get * 300)
        answers = read_responses(s, 300)
    assert [status for status, _ in answers] == [200] * 300
    # One number each, in the requests' order, after the first request's: none lost or twice.
    assert [int(b) for _, b in answers] == list(range(int(body) + 1, int(body) + 301))


def test_requests_arriving_in_pieces_are_read_whole(pezd):
    # A request is parsed as soon as its bytes are read; one cut anywhere (in the request line,
    # in a header, in a body) is read on from where its parse stopped, and the requests after it
    # in the same read are answered too, in order.
    host, port = pezd.address.rsplit(":", 1)
    get = b"GET /v1/forward HTTP/1.1\r\nHost: t\r\n\r\n"
    post = b"POST /v1/forward HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789"
    pieces = [
        get,
        b"GET /v2/forward?count=2 HTTP/1.1\r\nHo",
        b"st: t\r\n\r\n" + get + get[:7],
        get[7:] + post[:len(post) - 4],
        post[len(post) - 4:] + get,
    ]
    answers = []
    with socket.create_connection((host, int(port)), timeout=10) as s:
        for count, piece in zip([1, 0, 2, 1, 2], pieces):
            s.sendall(piece)
            time.sleep(0.2)  # each piece read on its own
            answers += read_responses(s, count) if count else []
    assert [status for status, _ in answers] == [200, 200, 200, 200, 405, 200]
    first = int(answers[0][1])
    assert json.loads(answers[1][1]) == [first + 1, first + 2]
    assert [int(answers[i][1]) for i in (2, 3, 5)] == [first + 3, first + 4, first + 5]


def test_a_request_then_garbage_in_one_read_answers_both(pezd):
    text = raw_exchange(pezd.address, b"GET /v1/forward HTTP/1.1\r\nHost: t\r\n\r\n\x00\x01 NOT HTTP\r\n\r\n")
    first, rest = text.split("\r\n\r\n", 1)
    assert first.startswith("HTTP/1.1 200"), text
    assert rest.startswith("1\nHTTP/1.1 400"), text


def test_http_1_0_closes_after_the_answer(pezd):
    text = raw_exchange(pezd.address, b"GET /v1/forward HTTP/1.0\r\n\r\n")
    assert text.startswith("HTTP/1.0 200")
    assert text.endswith("\r\n\r\n1\n")


def test_oversized_headers_are_refused_and_the_connection_closed(start_pezd):
    pezd = start_pezd(["--header-limit", "2048"])
    big = "x" * 4096
    text = raw_exchange(pezd.address, f"GET /v1/forward HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n".encode())
    assert text.startswith("HTTP/1.1 431"), text
    assert "header_limit" in text
    assert pezd.get("/v1/forward").body == "1\n"


def test_oversized_body_is_refused(start_pezd):
    pezd = start_pezd(["--body-limit", "16"])
    text = raw_exchange(pezd.address, b"POST /v1/forward HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
    assert text.startswith("HTTP/1.1 413"), text


def test_garbage_is_400_and_closed(start_pezd):
    pezd = start_pezd()
    text = raw_exchange(pezd.address, b"\x00\x01 NOT HTTP\r\n\r\n")
    assert text.startswith("HTTP/1.1 400"), text
    # Logged once, in one line (the answer's body, with its newline, made a second, empty one).
    wait_until(lambda: "400 malformed HTTP request" in pezd.log_text(), 10, what="the refusal in pezd's log")
    lines = pezd.log_text().splitlines()
    assert all(lines) and sum("malformed HTTP request" in line for line in lines) == 1, lines


def test_a_request_that_never_completes_is_closed_after_header_timeout(start_pezd):
    pezd = start_pezd(["--header-timeout", "1s"])
    host, port = pezd.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /v1/forward HTTP/1.1\r\nHost: t\r\n")  # no blank line: never finished
        started = time.monotonic()
        assert s.recv(100) == b""  # closed by pezd
        took = time.monotonic() - started
    assert took < 8, took


def test_a_keep_alive_connection_at_rest_is_served_as_before(start_pezd):
    # A connection a second without a request lets go of the read it kept waiting (pezd(8),
    # idle_timeout); whatever it sends next is answered as before, and the idle timeout still
    # counts from the last request.
    pezd = start_pezd(["--idle-timeout", "4s", "--threads", "1", "--log-level", "debug"])
    host, port = pezd.address.rsplit(":", 1)
    get = b"GET /v1/forward HTTP/1.1\r\nHost: t\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(get)
        [(status, body)] = read_responses(s, 1)
        assert status == 200
        last = int(body)
        time.sleep(1.5)
        # Several requests at once, the first bytes waking it.
        s.sendall(get + get + b"GET /v2/forward?count=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        answers = read_responses(s, 3)
        assert [status for status, _ in answers] == [200, 200, 200]
        numbers = [int(answers[0][1]), int(answers[1][1])] + json.loads(answers[2][1])
        assert numbers == sorted(numbers) and numbers[0] > last and len(set(numbers)) == 4
        time.sleep(1.5)
        # One request in two parts: the first wakes it, the rest comes later.
        s.sendall(get[:10])
        time.sleep(0.3)
        s.sendall(get[10:])
        [(status, body)] = read_responses(s, 1)
        assert status == 200 and int(body) > numbers[-1]
        assert pezd.log_text().count(": at rest") == 2
        answered = time.monotonic()
        assert s.recv(100) == b""  # closed by pezd: idle for idle_timeout
        assert time.monotonic() - answered > 3
    assert pezd.get("/v1/forward").status == 200


def test_an_idle_connection_is_closed_after_idle_timeout(start_pezd):
    pezd = start_pezd(["--idle-timeout", "1s"])
    host, port = pezd.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        assert s.recv(100) == b""


def test_healthz_and_readyz(pezd):
    r = pezd.get("/healthz")
    assert r.status == 200
    assert r.json()["status"] == "alive"
    r = pezd.get("/readyz")
    assert r.status == 200


def test_metrics_count_requests_and_numbers(pezd):
    before = pezd.get("/metrics").body
    pezd.numbers("forward", 7)
    pezd.get("/v1/reverse")
    pezd.get("/v2/forward?count=0")
    r = pezd.get("/metrics")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.body
    assert metric(text, "pez_numbers_total", 'sequence="forward"') == 7
    assert metric(text, "pez_numbers_total", 'sequence="reverse"') == 1
    code = 'transport="http",code="{}"'
    assert metric(text, "pez_requests_total", code.format(400)) - metric(before, "pez_requests_total", code.format(400)) == 1
    # the two number requests and the first /metrics
    assert metric(text, "pez_requests_total", code.format(200)) - metric(before, "pez_requests_total", code.format(200)) == 3
    assert metric(text, "pez_request_duration_seconds_count") >= 4
    assert metric(text, "pez_db_up") == 1
    assert metric(text, "pez_db_round_trips_total") >= 1
    assert re.search(r"^# TYPE pez_request_duration_seconds histogram$", text, re.M)
    # Every sample line is NAME{labels} VALUE or NAME VALUE.
    for line in text.splitlines():
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.eInf]+', line), line


def test_max_count_comes_from_the_original_environment_name(start_pezd):
    pezd = start_pezd(env={"PEZ_MAX_COUNT": "250"})
    assert len(pezd.numbers("forward", 250)) == 250
    r = pezd.get("/v2/forward?count=251")
    assert r.status == 400
    assert "1 to 250" in r.json()["error"]


def test_http_is_off_unless_configured(start_pezd):
    pezd = start_pezd(http=False)
    assert "http listening" not in pezd.log_text()
    assert pezd.pez("forward").stdout == "1\n"


def test_the_root_is_a_short_index_of_the_endpoints(pezd):
    r = pezd.get("/")
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["service"] == "pezd"
    assert {"/v1/NAME", "/v2/NAME?count=N", "/healthz", "/readyz", "/metrics"} <= set(body["endpoints"])
    head = pezd.get("/", method="HEAD")
    assert head.status == 200 and head.body == "" and head.headers["content-length"] == str(len(r.body))
    assert pezd.get("/", method="OPTIONS").status == 200
    assert pezd.get("/", method="POST").status == 405
    assert pezd.get("/?x=1").status == 400


def test_options_of_a_sequence_that_does_not_exist_is_404(pezd):
    for path in ("/v1/nosuch", "/v2/nosuch", "/v2/nosuch?count=3"):
        r = pezd.get(path, method="OPTIONS")
        assert r.status == 404, (path, r)
        assert "nosuch" in r.json()["error"]
    assert pezd.get("/v1/forward", method="OPTIONS").status == 200
    assert pezd.get("/v1/forward").body == "1\n"  # OPTIONS took nothing


def test_head_answers_say_their_length_where_a_get_would_have_a_fixed_one(pezd):
    # RFC 9110 8.6: a HEAD answer's Content-Length must be that of the GET answer. Every page but
    # the numbers has one now; numbers differ from one GET to the next, so their HEAD has none.
    for path in ("/healthz", "/"):
        get = pezd.get(path)
        head = pezd.get(path, method="HEAD")
        assert (head.status, head.headers["content-length"]) == (get.status, str(len(get.body.encode()))), path
    for path in ("/nosuch", "/v1/nosuch", "/v2/forward?count=0"):
        head = pezd.get(path, method="HEAD")
        assert head.status >= 400 and int(head.headers["content-length"]) > 0, (path, head)
    numbers = pezd.get("/v1/forward", method="HEAD")
    assert numbers.status == 200 and "content-length" not in numbers.headers, numbers
