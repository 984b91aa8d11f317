// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include "daemon/api/http_request.hpp"
#include "daemon/api/router.hpp"
#include "replies.hpp"

using pez::daemon::OpsPage;
using pez::daemon::Reply;
using pez::daemon::route;
using pez::daemon::TakeNumbers;
using pez::test::body_of;

namespace {

TakeNumbers take(std::string_view method, std::string_view target) {
  auto r = route(method, target, 100);
  REQUIRE(std::holds_alternative<TakeNumbers>(r.what));
  return std::get<TakeNumbers>(r.what);
}

Reply reply(std::string_view method, std::string_view target) {
  auto r = route(method, target, 100);
  REQUIRE(std::holds_alternative<Reply>(r.what));
  return std::get<Reply>(r.what);
}

// The body as the session writes it (an error answer's from its Error).

}  // namespace

TEST_CASE("router: v1 and v2 number paths") {
  auto t = take("GET", "/v1/forward");
  CHECK(t.name == "forward");
  CHECK(t.count == 1);
  CHECK(t.api == 1);
  t = take("GET", "/v2/reverse?count=5");
  CHECK(t.name == "reverse");
  CHECK(t.count == 5);
  CHECK(t.api == 2);
  CHECK(take("GET", "/v2/forward").count == 1);
  CHECK(take("GET", "/v2/forward?").count == 1);
  CHECK(take("GET", "/v2/forward?99").count == 99);
  CHECK(take("GET", "/v2/forward?count=%31%30").count == 10);
  CHECK(take("GET", "/v1/invoice-2024").name == "invoice-2024");
  CHECK(route("HEAD", "/v1/forward", 100).head);
  CHECK(take("GET", "/v1/forward").form == pez::NumberForm::number);
  CHECK(take("GET", "/v2/forward?count=3").form == pez::NumberForm::number);
}

TEST_CASE("router: as=string asks for the numbers as JSON strings, with count or a bare count") {
  auto t = take("GET", "/v1/reverse?as=string");
  CHECK(t.name == "reverse");
  CHECK(t.count == 1);
  CHECK(t.api == 1);
  CHECK(t.form == pez::NumberForm::string);
  t = take("GET", "/v2/forward?count=2&as=string");
  CHECK(t.count == 2);
  CHECK(t.api == 2);
  CHECK(t.form == pez::NumberForm::string);
  t = take("GET", "/v2/forward?as=string&count=7");
  CHECK(t.count == 7);
  CHECK(t.form == pez::NumberForm::string);
  t = take("GET", "/v2/forward?as=string");
  CHECK(t.count == 1);
  CHECK(t.form == pez::NumberForm::string);
  t = take("GET", "/v2/forward?99&as=string");
  CHECK(t.count == 99);
  CHECK(t.form == pez::NumberForm::string);
  t = take("GET", "/v2/forward?as=string&5");
  CHECK(t.count == 5);
  CHECK(t.form == pez::NumberForm::string);
  CHECK(take("GET", "/v2/forward?as=%73tring").form == pez::NumberForm::string);
  CHECK(take("GET", "/v2/forward?&as=string&").form == pez::NumberForm::string);
  auto const head = route("HEAD", "/v1/forward?as=string", 100);
  CHECK(head.head);
  CHECK(std::get<TakeNumbers>(head.what).form == pez::NumberForm::string);
}

TEST_CASE("router: a bad as is 400, says what is allowed and takes no number") {
  for (auto target : {"/v1/forward?as=number", "/v1/forward?as=", "/v1/forward?as", "/v1/forward?as=STRING",
                      "/v1/forward?as=string&as=string", "/v1/forward?as=strings", "/v1/forward?as=string%00",
                      "/v2/forward?as=int", "/v2/forward?count=2&as=", "/v2/forward?as&count=2",
                      "/v2/forward?as=string&as=number", "/v2/forward?5&as=json", "/v2/forward?as=%zz"}) {
    CAPTURE(target);
    auto r = route("GET", target, 100);
    REQUIRE(std::holds_alternative<Reply>(r.what));
    auto const& answer = std::get<Reply>(r.what);
    CHECK(answer.status == 400);
    CHECK(body_of(answer).starts_with("{\"error\": \""));
    if (std::string_view(target).find("%zz") == std::string_view::npos) {
      CHECK(body_of(answer).find("as=string") != std::string::npos);
    }
    CHECK(std::holds_alternative<Reply>(route("HEAD", target, 100).what));
  }
  CHECK(body_of(reply("GET", "/v1/forward?as=number")).find("number") != std::string::npos);
  // as does not lift the other rules: count is still checked, and /v1 still takes no count.
  for (auto target : {"/v2/forward?count=0&as=string", "/v2/forward?as=string&101", "/v2/forward?5&count=5&as=string",
                      "/v2/forward?5&6", "/v2/forward?as=string&size=3", "/v1/forward?as=string&count=2",
                      "/v1/forward?5&as=string"}) {
    CAPTURE(target);
    CHECK(reply("GET", target).status == 400);
  }
  CHECK(body_of(reply("GET", "/v1/forward?as=string&count=2")).find("/v2/forward?count=N") != std::string::npos);
  CHECK(body_of(reply("GET", "/v2/forward?as=string&size=3")).find("1 to 100") != std::string::npos);
}

TEST_CASE("router: count rules give 400 with a message that says what is allowed") {
  for (auto target : {"/v2/forward?count=0", "/v2/forward?count=101", "/v2/forward?count=abc",
                      "/v2/forward?count=", "/v2/forward?count=-1", "/v2/forward?count=1.5", "/v2/forward?0",
                      "/v2/forward?101", "/v2/forward?count=1&count=2", "/v2/forward?size=3", "/v2/forward?count=5&x=1",
                      "/v2/forward?count", "/v2/forward?count=%zz", "/v1/forward?count=5", "/v1/forward?x"}) {
    CAPTURE(target);
    auto r = reply("GET", target);
    CHECK(r.status == 400);
    CHECK(body_of(r).starts_with("{\"error\": \""));
  }
  CHECK(body_of(reply("GET", "/v2/forward?count=0")).find("1 to 100") != std::string::npos);
  CHECK(body_of(reply("GET", "/v2/forward?size=3")).find("size") != std::string::npos);
}

TEST_CASE("router: unknown paths and names are 404") {
  for (auto target : {"/v3/forward", "/v1/", "/v1/Forward", "/v1/forward/", "/v1/../etc/passwd", "/WRONG_BANANAS",
                      "/v1/a%20b", "/v2/;drop"}) {
    CAPTURE(target);
    CHECK(reply("GET", target).status == 404);
  }
  // Why: no name at all, or one that no sequence can have.
  CHECK(body_of(reply("GET", "/v2/")).find("no sequence name in the path") != std::string::npos);
  CHECK(body_of(reply("GET", "/v1/Forward")).find("does not start with a-z") != std::string::npos);
  CHECK(body_of(reply("GET", "/v1/a%20b")).find("contains \\\"%\\\"") != std::string::npos);
}

TEST_CASE("router: methods") {
  auto r = reply("POST", "/v1/forward");
  CHECK(r.status == 405);
  CHECK(r.allow == "GET, HEAD, OPTIONS");
  CHECK(reply("DELETE", "/v2/forward?count=3").status == 405);
  auto options = reply("OPTIONS", "/v2/forward");
  CHECK(options.status == 200);
  CHECK(options.allow == "GET, HEAD, OPTIONS");
  CHECK(options.body.find("\"description\"") != std::string::npos);
  CHECK(options.body.find("\"verbs\"") != std::string::npos);
  CHECK(options.body.find("\"count\"") != std::string::npos);
  CHECK(options.body.find("\"as\"") != std::string::npos);
  CHECK(reply("OPTIONS", "/v1/forward").body.find("\"as\"") != std::string::npos);
  // Whether the sequence exists is the catalog's to say: the session asks it before answering.
  CHECK(route("OPTIONS", "/v2/nosuch", 100).if_sequence == "nosuch");
  CHECK(route("OPTIONS", "/v1/forward", 100).if_sequence == "forward");
  CHECK(route("OPTIONS", "/healthz", 100).if_sequence.empty());
}

TEST_CASE("router: the root is an index of the endpoints") {
  auto index = reply("GET", "/");
  CHECK(index.status == 200);
  for (auto path : {"/v1/NAME", "/v2/NAME?count=N", "/healthz", "/readyz", "/metrics"}) {
    CAPTURE(path);
    CHECK(index.body.find(std::string("\"") + path + "\"") != std::string::npos);
  }
  CHECK(route("HEAD", "/", 100).head);
  CHECK(reply("POST", "/").status == 405);
  CHECK(reply("GET", "/?x").status == 400);
}

TEST_CASE("router: operations pages") {
  CHECK(std::get<OpsPage>(route("GET", "/healthz", 100).what) == OpsPage::healthz);
  CHECK(std::get<OpsPage>(route("GET", "/readyz", 100).what) == OpsPage::readyz);
  CHECK(std::get<OpsPage>(route("GET", "/metrics", 100).what) == OpsPage::metrics);
  CHECK(reply("GET", "/healthz?x=1").status == 400);
}
