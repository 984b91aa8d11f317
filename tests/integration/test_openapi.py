# SPDX-License-Identifier: Apache-2.0
"""GET /openapi.json (DESIGN §2) against a real pezd: the document is valid OpenAPI 3.1 (the
validator scripts/setup-deps installs says so) and its schemas valid JSON Schema, and every
route's answers, good and bad, have a status the document gives for that operation, the headers
it names, and a body that its schema for that status and content type accepts."""

import json
import os
import re
import subprocess

import jsonschema
import pytest

from harness import ADMIN_TOKEN, ROOT, admin_token_file, bearer, raw_exchange

TOOLS = os.environ.get("PEZ_TOOLS_DIR", os.path.join(ROOT, ".tools"))
VALIDATOR = os.path.join(TOOLS, "openapi", "node_modules", ".bin", "validate-api")
METHODS = ("get", "head", "options", "post", "put", "delete", "patch")


class Contract:
    """A running pezd and its own document: each request's answer is checked against it."""

    def __init__(self, pezd):
        self.pezd = pezd
        r = pezd.get("/openapi.json")
        assert r.status == 200, r
        assert r.headers["content-type"] == "application/json"
        self.doc = r.json()
        self.exercised = set()
        self.templates = [(re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]*", re.escape(path)) + "$"), path)
                          for path in self.doc["paths"]]

    def validate(self, instance, schema):
        # The document's components ride along, so that its #/components/... references resolve.
        jsonschema.Draft202012Validator({**schema, "components": self.doc["components"]}).validate(instance)

    def error_body(self, r, method):
        assert r.headers["content-type"] == "application/json", r
        if method == "HEAD":
            assert r.body == "", r
        else:
            self.validate(r.json(), {"$ref": "#/components/schemas/Error"})

    def ask(self, method, target, expect=None, headers=None, body=None):
        """Sends the request and checks its answer against the document; returns the answer."""
        r = self.pezd.get(target, method=method, headers=headers, body=body)
        where = f"{method} {target} -> {r.status} {r.body[:300]!r}"
        if expect is not None:
            assert r.status == expect, where
        path = target.split("?", 1)[0]
        template = next((t for regex, t in self.templates if regex.match(path)), None)
        if template is None:
            assert r.status == 404, where
            self.error_body(r, method)
            return r
        item = self.doc["paths"][template]
        op = item.get(method.lower())
        if op is None:
            # A method the path does not list: 405, and Allow says the ones it does.
            assert r.status == 405, where
            listed = {m.upper() for m in item if m in METHODS}
            assert {m.strip() for m in r.headers["allow"].split(",")} == listed, where
            self.error_body(r, method)
            return r
        self.exercised.add(op["operationId"])
        answer = op["responses"].get(str(r.status))
        assert answer is not None, f"{where}: status not documented for {op['operationId']}"
        for header in answer.get("headers", {}):
            assert header.lower() in r.headers, f"{where}: no {header} header"
        if method == "HEAD":
            assert r.body == "", where
            return r
        content = answer.get("content", {})
        media = r.headers["content-type"]
        assert media in content, f"{where}: content type {media} not documented ({list(content)})"
        instance = r.json() if media == "application/json" else r.body
        try:
            self.validate(instance, content[media]["schema"])
        except jsonschema.ValidationError as e:
            raise AssertionError(f"{where}: the body does not fit the documented schema: {e.message}") from None
        return r


@pytest.fixture
def contract(start_pezd, workdir):
    return Contract(start_pezd(["--admin-token-file", admin_token_file(workdir)]))


def test_the_document_is_valid_openapi_3_1(pezd, workdir):
    r = pezd.get("/openapi.json")
    assert r.status == 200, r
    doc = r.json()
    assert doc["openapi"].startswith("3.1.")
    if not os.access(VALIDATOR, os.X_OK):
        pytest.fail(f"the OpenAPI validator is not installed at {VALIDATOR}: run scripts/setup-deps")
    path = os.path.join(workdir, "openapi.json")
    with open(path, "w") as f:
        f.write(r.body)
    checked = subprocess.run([VALIDATOR, path], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["valid"] is True, checked.stdout
    # The validator checks the document's shape; each schema in it is held to JSON Schema itself.
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    ids = []
    for template, item in doc["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([a-z_]+)\}", template)), template
        for method in (m for m in item if m in METHODS):
            ids.append(item[method]["operationId"])
            for param in item[method].get("parameters", []):
                jsonschema.Draft202012Validator.check_schema(param["schema"])
    assert len(ids) == len(set(ids)), ids
    head = pezd.get("/openapi.json", method="HEAD")
    assert head.status == 200 and head.headers["content-length"] == str(len(r.body.encode()))


def public_routes(c):
    c.ask("GET", "/", 200)
    c.ask("HEAD", "/", 200)
    c.ask("OPTIONS", "/", 200)
    c.ask("GET", "/?x=1", 400)
    c.ask("POST", "/", 405)
    for target in ("/v1/forward", "/v1/reverse?as=string", "/v2/forward?count=5", "/v2/forward?count=100",
                   "/v2/forward?99", "/v2/reverse?count=2&as=string", "/v2/forward"):
        c.ask("GET", target, 200)
        c.ask("HEAD", target, 200)
    for target in ("/v1/forward?count=2", "/v1/forward?as=number", "/v2/forward?count=0", "/v2/forward?count=101",
                   "/v2/forward?count=abc", "/v2/forward?size=3", "/v2/forward?count=1&count=2",
                   "/v2/forward?count=%zz"):
        c.ask("GET", target, 400)
        c.ask("HEAD", target, 400)
    for target in ("/v1/nosuch", "/v2/nosuch?count=2", "/v1/Bad", "/v2/a%20b"):
        c.ask("GET", target, 404)
        c.ask("OPTIONS", target, 404)
    for target in ("/v1/forward", "/v2/reverse", "/v1/forward/check"):
        c.ask("OPTIONS", target, 200)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            c.ask(method, target, 405)
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        c.ask("GET", path, 200)
        c.ask("HEAD", path, 200)
        c.ask("OPTIONS", path, 200)
        c.ask("GET", path + "?x=1", 400)
        c.ask("DELETE", path, 405)
    for target in ("/nosuch", "/v3/forward", "/v1/forward/", "/healthz/x", "/v2/forward/check"):
        c.ask("GET", target, 404)


def check_route(c):
    # A sequence without format: the check is refused with 400, whatever the value.
    c.ask("GET", "/v1/forward/check?value=1", 400)
    c.ask("HEAD", "/v1/forward/check?value=INV-2026-000042-7", 400)
    c.ask("GET", "/v1/forward/check?value=" + "7" * 64, 400)
    c.ask("GET", "/v1/nosuch/check?value=1", 404)
    c.ask("GET", "/v1/Bad/check?value=1", 404)
    c.ask("OPTIONS", "/v1/nosuch/check", 404)
    for query in ("", "?value=", "?value", "?value=" + "7" * 65, "?value=1&value=2", "?value=1&x=2", "?x=1",
                  "?value=%zz"):
        r = c.ask("GET", "/v1/forward/check" + query, 400)
        assert "value" in r.json()["error"] or "parameter" in r.json()["error"] or "escape" in r.json()["error"]


def formatted(c):
    # A formatted, yearly sequence with a check digit: strings everywhere, the check's verdict.
    body = json.dumps({"name": "inv", "max": 999999, "cycle": False, "format": "INV-{YYYY}-{n:06}-{check}",
                       "period": "yearly", "timezone": "Europe/Berlin", "check": "luhn"})
    created = c.ask("POST", "/admin/sequences", 201, bearer(), body).json()
    assert created["format"] == "INV-{YYYY}-{n:06}-{check}" and created["period"] == "yearly"
    one = c.ask("GET", "/v1/inv", 200).json()
    two = c.ask("GET", "/v2/inv?count=2&as=string", 200).json()
    assert all(isinstance(v, str) and v.startswith("INV-") for v in [one] + two)
    assert c.ask("GET", "/v1/inv/check?value=" + one, 200).json() == {"valid": True}
    wrong = one[:-1] + str((int(one[-1]) + 1) % 10)
    verdict = c.ask("GET", "/v1/inv/check?value=" + wrong, 200).json()
    assert verdict["valid"] is False and "check digit" in verdict["reason"]
    assert c.ask("GET", "/admin/sequences/inv", 200, bearer()).json()["next_printed"].startswith("INV-")
    c.ask("POST", "/admin/sequences", 400, bearer(), json.dumps({"name": "bad", "format": "INV"}))


def running_out(c):
    r = c.ask("POST", "/admin/sequences", 201, bearer(), json.dumps({"name": "tiny", "max": 2, "cycle": False}))
    assert r.json()["name"] == "tiny"
    c.ask("GET", "/v2/tiny?count=3", 409)
    c.ask("GET", "/v2/tiny?count=2", 200)
    c.ask("GET", "/v1/tiny", 409)
    c.ask("POST", "/admin/sequences", 201, bearer(), json.dumps({"name": "small", "max": 5}))
    c.ask("GET", "/v2/small?count=6", 400)  # more than one pass holds


def admin_routes(c):
    for method, target in (("GET", "/admin/sequences"), ("POST", "/admin/sequences"),
                           ("GET", "/admin/sequences/forward"), ("DELETE", "/admin/sequences/web"),
                           ("POST", "/admin/sequences/forward/reset")):
        c.ask(method, target, 401)
        c.ask(method, target, 401, {"Authorization": "Bearer wrong"})
    c.ask("GET", "/admin/sequences", 200, bearer())
    body = json.dumps({"name": "web", "start": 10, "max": 12, "cycle": False, "description": "web numbers"})
    assert c.ask("POST", "/admin/sequences", 201, bearer(), body).json()["next"] == 10
    c.ask("POST", "/admin/sequences", 409, bearer(), body)
    for bad in ("not json", "[1]", json.dumps({"name": "x", "colour": "red"}), json.dumps({"name": "Bad"}),
                json.dumps({"name": "x", "min": 9, "max": 3}), json.dumps({"start": 5}), ""):
        c.ask("POST", "/admin/sequences", 400, bearer(), bad)
    c.ask("GET", "/admin/sequences/web", 200, bearer())
    c.ask("GET", "/admin/sequences/nosuch", 404, bearer())
    c.ask("GET", "/admin/sequences/UPPER", 400, bearer())
    c.ask("GET", "/admin/sequences/..%2F..", 400, bearer())
    c.ask("POST", "/admin/sequences/web/reset", 200, bearer(), json.dumps({"to": 11}))
    c.ask("POST", "/admin/sequences/web/reset", 200, bearer())
    c.ask("POST", "/admin/sequences/web/reset", 400, bearer(), json.dumps({"to": 0}))
    c.ask("POST", "/admin/sequences/web/reset", 400, bearer(), json.dumps({"from": 3}))
    c.ask("POST", "/admin/sequences/nosuch/reset", 404, bearer())
    c.ask("DELETE", "/admin/sequences/web", 200, bearer())
    c.ask("DELETE", "/admin/sequences/web", 404, bearer())
    c.ask("DELETE", "/admin/sequences/forward", 409, bearer())
    for method, target in (("PUT", "/admin/sequences/forward"), ("HEAD", "/admin/sequences"),
                           ("OPTIONS", "/admin/sequences"), ("GET", "/admin/sequences/forward/reset"),
                           ("DELETE", "/admin/sequences")):
        c.ask(method, target, 405, bearer())
    c.ask("GET", "/admin/sequences?x=1", 400, bearer())
    c.ask("GET", "/admin/nosuch", 404, bearer())
    c.ask("GET", "/admin/sequences/a/b", 404, bearer())


def test_every_route_answers_as_its_document_says(contract):
    public_routes(contract)
    check_route(contract)
    formatted(contract)
    running_out(contract)
    admin_routes(contract)
    documented = {item[m]["operationId"] for item in contract.doc["paths"].values() for m in item if m in METHODS}
    assert documented == contract.exercised, f"not exercised: {sorted(documented - contract.exercised)}"


def test_an_answer_to_head_has_no_body_whatever_its_status(start_pezd, workdir):
    """A body after a HEAD answer would be read as the next answer on a kept-alive connection."""
    pezd = start_pezd(["--admin-token-file", admin_token_file(workdir)])
    for target, headers in (("/nosuch", ""), ("/v1/Bad", ""), ("/admin/sequences", f"Authorization: Bearer {ADMIN_TOKEN}\r\n"),
                            ("/admin/sequences", ""), ("/v2/forward?count=0", "")):
        text = raw_exchange(pezd.address, f"HEAD {target} HTTP/1.1\r\nHost: t\r\n{headers}\r\n"
                                          f"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        first, rest = text.split("\r\n\r\n", 1)
        assert re.match(r"HTTP/1\.1 4\d\d ", first), (target, text)
        assert rest.startswith("HTTP/1.1 200 "), (target, text)


def test_a_body_over_the_limit_is_413_as_documented(start_pezd, workdir):
    c = Contract(start_pezd(["--admin-token-file", admin_token_file(workdir), "--body-limit", "128"]))
    c.ask("POST", "/admin/sequences", 413, bearer(), json.dumps({"name": "big", "description": "x" * 150}))
    c.ask("POST", "/admin/sequences/forward/reset", 413, bearer(), " " * 200)


def test_admin_routes_that_are_off_answer_as_documented(pezd):
    c = Contract(pezd)
    for method, target in (("GET", "/admin/sequences"), ("POST", "/admin/sequences"),
                           ("GET", "/admin/sequences/forward"), ("DELETE", "/admin/sequences/forward"),
                           ("POST", "/admin/sequences/forward/reset")):
        r = c.ask(method, target, 404, bearer())
        assert "admin_token_file" in r.json()["error"]


def test_answers_while_the_database_is_down_are_documented(start_pezd, workdir, cluster):
    c = Contract(start_pezd(["--admin-token-file", admin_token_file(workdir), "--request-timeout", "2s"]))
    cluster.stop()
    try:
        c.ask("GET", "/readyz", 503)
        c.ask("HEAD", "/readyz", 503)
        c.ask("GET", "/healthz", 200)
        c.ask("GET", "/metrics", 200)
        c.ask("GET", "/openapi.json", 200)
        # Block mode may still serve what it holds reserved; either answer is a documented one.
        for target in ("/v1/forward", "/v2/forward?count=100", "/v1/forward/check?value=1"):
            c.ask("GET", target)
        c.ask("OPTIONS", "/v1/forward")
        c.ask("GET", "/admin/sequences", 503, bearer())
        c.ask("POST", "/admin/sequences", 503, bearer(), json.dumps({"name": "later"}))
    finally:
        cluster.start()
