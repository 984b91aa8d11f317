// SPDX-License-Identifier: Apache-2.0
// The HTTP admin routes (router.hpp's route_admin) and the bearer token check: which requests
// become which admin command, and every refusal before one does.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/api/http_request.hpp"
#include "daemon/api/router.hpp"
#include "replies.hpp"

using pez::daemon::AdminCommand;
using pez::daemon::bearer_matches;
using pez::daemon::Reply;
using pez::daemon::Route;
using pez::daemon::route_admin;
using pez::test::body_of;
using Op = AdminCommand::Op;

namespace {

// The body as the session writes it (an error answer's from its Error).

// What an enabled, authorised request routes to.
Route admin(std::string_view method, std::string_view target, std::string_view body = {}) {
  auto r = route_admin(method, target, body, true, true);
  REQUIRE(r);
  return std::move(*r);
}

AdminCommand command(std::string_view method, std::string_view target, std::string_view body = {}) {
  auto r = admin(method, target, body);
  REQUIRE(std::holds_alternative<AdminCommand>(r.what));
  return std::get<AdminCommand>(r.what);
}

Reply refusal(std::string_view method, std::string_view target, std::string_view body = {}, bool enabled = true,
              bool authorized = true) {
  auto r = route_admin(method, target, body, enabled, authorized);
  REQUIRE(r);
  REQUIRE(std::holds_alternative<Reply>(r->what));
  return std::get<Reply>(r->what);
}

}  // namespace

TEST_CASE("admin routes: other paths are not theirs") {
  for (auto const* target : {"/", "/v1/forward", "/v2/admin", "/administrator", "/admins/sequences", "/Admin/sequences",
                             "", "admin/sequences", "/openapi.json"}) {
    CAPTURE(target);
    CHECK_FALSE(route_admin("GET", target, "", true, true));
    CHECK_FALSE(route_admin("GET", target, "", false, false));
  }
}

TEST_CASE("admin routes: each route and method makes its command") {
  auto c = command("GET", "/admin/sequences");
  CHECK(c.op == Op::list);
  CHECK(c.name.empty());
  CHECK(command("GET", "/admin/sequences/").op == Op::list);

  c = command("POST", "/admin/sequences", R"({"name": "tickets"})");
  CHECK(c.op == Op::create);
  CHECK(c.spec == R"({"name": "tickets"})");  // read by Admin, with parse_create_spec
  CHECK(c.name.empty());

  c = command("GET", "/admin/sequences/tickets");
  CHECK(c.op == Op::inspect);
  CHECK(c.name == "tickets");

  c = command("DELETE", "/admin/sequences/invoice-2024_b");
  CHECK(c.op == Op::drop);
  CHECK(c.name == "invoice-2024_b");

  c = command("POST", "/admin/sequences/tickets/reset");
  CHECK(c.op == Op::reset);
  CHECK(c.name == "tickets");
  CHECK_FALSE(c.to);
  CHECK_FALSE(command("POST", "/admin/sequences/tickets/reset", " \r\n").to);
  CHECK_FALSE(command("POST", "/admin/sequences/tickets/reset", "{}").to);
  CHECK_FALSE(command("POST", "/admin/sequences/tickets/reset", R"({"to": null})").to);
  CHECK(command("POST", "/admin/sequences/tickets/reset", R"({"to": 5})").to == 5);
  CHECK(command("POST", "/admin/sequences/tickets/reset", R"({"to": 9223372036854775807})").to == 9223372036854775807);

  // A name is %-decoded, then checked.
  CHECK(command("GET", "/admin/sequences/t%69ckets").name == "tickets");
  std::string const longest(48, 'a');
  CHECK(command("GET", "/admin/sequences/" + longest).name == longest);
}

TEST_CASE("admin routes: off without a token file, whatever the request") {
  for (auto const* target : {"/admin", "/admin/", "/admin/sequences", "/admin/sequences/x", "/admin/nosuch?q=1"}) {
    CAPTURE(target);
    for (bool authorized : {false, true}) {
      auto r = refusal("GET", target, "", false, authorized);
      CHECK(r.status == 404);
      CHECK(body_of(r).contains("admin_token_file"));
      CHECK_FALSE(r.bearer_challenge);
    }
  }
  // The path is quoted, the query left out.
  CHECK(body_of(refusal("GET", "/admin/nosuch?secret=1", "", false, false)).contains("\\\"/admin/nosuch\\\""));
  CHECK_FALSE(body_of(refusal("GET", "/admin/nosuch?secret=1", "", false, false)).contains("secret"));
}

TEST_CASE("admin routes: without the token, 401 with a bearer challenge before anything is looked at") {
  for (auto const* target : {"/admin/sequences", "/admin/nosuch", "/admin/sequences/UPPER", "/admin/sequences?x=1"}) {
    for (auto const* method : {"GET", "POST", "PUT", "DELETE", "HEAD"}) {
      CAPTURE(target);
      CAPTURE(method);
      auto r = refusal(method, target, "not json", true, false);
      CHECK(r.status == 401);
      CHECK(r.bearer_challenge);
      CHECK(body_of(r).contains("Authorization: Bearer TOKEN"));
    }
  }
}

TEST_CASE("admin routes: queries, unknown paths, bad names and methods are refused") {
  auto r = refusal("GET", "/admin/sequences?x=1");
  CHECK(r.status == 400);
  CHECK(body_of(r).contains("no query parameters"));
  CHECK(refusal("GET", "/admin/sequences?").status == 400);
  CHECK(refusal("POST", "/admin/sequences/tickets/reset?to=5").status == 400);

  for (auto const* target : {"/admin", "/admin/", "/admin/nosuch", "/admin/sequences/a/b", "/admin/sequences/a/reset/b",
                             "/admin/Sequences"}) {
    CAPTURE(target);
    r = refusal("GET", target);
    CHECK(r.status == 404);
    CHECK(body_of(r).contains("/admin/sequences/NAME/reset"));
  }

  std::string const too_long(49, 'a');
  for (std::string const& target :
       std::vector<std::string>{"/admin/sequences/UPPER", "/admin/sequences/1abc", "/admin/sequences/a.b",
                                "/admin/sequences/..%2F..", "/admin/sequences/%C3%A9t%C3%A9", "/admin/sequences/a%20b",
                                "/admin/sequences/%00", "/admin/sequences/" + too_long, "/admin/sequences/%41bc"}) {
    CAPTURE(target);
    r = refusal("GET", target);
    CHECK(r.status == 400);
    CHECK(body_of(r).contains("a name is 1 to 48 characters"));
  }
  for (auto const* target : {"/admin/sequences/%ZZ", "/admin/sequences/abc%", "/admin/sequences/abc%4"}) {
    CAPTURE(target);
    r = refusal("DELETE", target);
    CHECK(r.status == 400);
    CHECK(body_of(r).contains("malformed %-escape"));
  }
  // An empty name ("/admin/sequences/" itself is the list).
  r = refusal("POST", "/admin/sequences//reset");
  CHECK(r.status == 400);
  CHECK(body_of(r).contains("empty sequence name"));

  struct Wrong {
    char const* method;
    char const* target;
    char const* allow;
  };
  for (auto const& w :
       {Wrong{"PUT", "/admin/sequences", "GET, POST"}, Wrong{"DELETE", "/admin/sequences", "GET, POST"},
        Wrong{"POST", "/admin/sequences/x", "GET, DELETE"}, Wrong{"PATCH", "/admin/sequences/x", "GET, DELETE"},
        Wrong{"GET", "/admin/sequences/x/reset", "POST"}, Wrong{"get", "/admin/sequences", "GET, POST"}}) {
    CAPTURE(w.method);
    CAPTURE(w.target);
    r = refusal(w.method, w.target);
    CHECK(r.status == 405);
    CHECK(r.allow == w.allow);
    CHECK(body_of(r).contains("is not allowed here"));
  }
}

TEST_CASE("admin routes: a bad reset body is 400 and says why") {
  struct Bad {
    char const* body;
    char const* says;
  };
  for (auto const& bad :
       {Bad{"{", "not valid JSON"}, Bad{"[5]", "must be a JSON object"},
        Bad{R"({"to": 0})", "from 1 to 9223372036854775807"}, Bad{R"({"to": -1})", "from 1 to 9223372036854775807"},
        Bad{R"({"to": 9223372036854775808})", "from 1 to 9223372036854775807"}, Bad{R"({"to": 1.5})", "whole number"},
        Bad{R"({"to": "5"})", "whole number"}, Bad{R"({"from": 3})", "the only field is to"}}) {
    CAPTURE(bad.body);
    auto r = refusal("POST", "/admin/sequences/tickets/reset", bad.body);
    CHECK(r.status == 400);
    CHECK(body_of(r).contains(bad.says));
  }
}

TEST_CASE("admin routes: HEAD is answered without a body, as a refusal") {
  auto r = route_admin("HEAD", "/admin/sequences", "", true, true);
  REQUIRE(r);
  CHECK(r->head);
  REQUIRE(std::holds_alternative<Reply>(r->what));
  CHECK(std::get<Reply>(r->what).status == 405);
  r = route_admin("HEAD", "/admin/sequences", "", true, false);
  REQUIRE(r);
  CHECK(r->head);
  r = route_admin("HEAD", "/admin/sequences", "", false, false);
  REQUIRE(r);
  CHECK(r->head);
  CHECK_FALSE(admin("GET", "/admin/sequences").head);
}

TEST_CASE("bearer token: the scheme in any case, then exactly the token") {
  std::string_view const token = "s3cret-token-0123456789abcdef";
  CHECK(bearer_matches("Bearer s3cret-token-0123456789abcdef", token));
  CHECK(bearer_matches("bearer s3cret-token-0123456789abcdef", token));
  CHECK(bearer_matches("BEARER s3cret-token-0123456789abcdef", token));
  CHECK(bearer_matches("bEaReR s3cret-token-0123456789abcdef", token));

  CHECK_FALSE(bearer_matches("", token));
  CHECK_FALSE(bearer_matches("Bearer", token));
  CHECK_FALSE(bearer_matches("Bearer ", token));
  CHECK_FALSE(bearer_matches("s3cret-token-0123456789abcdef", token));
  CHECK_FALSE(bearer_matches("Basic s3cret-token-0123456789abcdef", token));
  CHECK_FALSE(bearer_matches("Bearer: s3cret-token-0123456789abcdef", token));
  CHECK_FALSE(bearer_matches("Bearer  s3cret-token-0123456789abcdef", token));  // two spaces
  CHECK_FALSE(bearer_matches("Bearer\ts3cret-token-0123456789abcdef", token));  // a tab
  CHECK_FALSE(bearer_matches("Bearer s3cret-token-0123456789abcdef ", token));  // trailing space
  CHECK_FALSE(bearer_matches("Bearer s3cret-token-0123456789abcde", token));    // one short
  CHECK_FALSE(bearer_matches("Bearer s3cret-token-0123456789abcdefx", token));  // one more
  CHECK_FALSE(bearer_matches("Bearer S3CRET-TOKEN-0123456789ABCDEF", token));   // the token's case counts
  CHECK_FALSE(bearer_matches("Bearer t3cret-token-0123456789abcdef", token));   // the first byte
  CHECK_FALSE(bearer_matches("Bearer s3cret-token-0123456789abcdeg", token));   // the last byte
  CHECK_FALSE(bearer_matches(std::string("Bearer s3cret-token-0123456789abcdef\0", 37), token));
  CHECK_FALSE(bearer_matches("Bearer " + std::string(10000, 'a'), token));

  // No token configured matches nothing, not even an empty one.
  CHECK_FALSE(bearer_matches("Bearer ", ""));
  CHECK_FALSE(bearer_matches("Bearer x", ""));

  // Any bytes may make a token: UTF-8, and bytes that are no text at all.
  std::string_view const odd = "tøken-ünïcode-\xff\x01-0123456789";
  CHECK(bearer_matches("Bearer " + std::string(odd), odd));
  CHECK_FALSE(bearer_matches("Bearer " + std::string(odd.substr(1)), odd));
  std::string const long_token(4096, 'k');
  CHECK(bearer_matches("Bearer " + long_token, long_token));
  CHECK_FALSE(bearer_matches("Bearer " + long_token + "k", long_token));
}
