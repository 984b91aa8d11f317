// SPDX-License-Identifier: Apache-2.0
// An error as each listener writes it: the JSON body of an HTTP answer (with its request id), the
// log's text of it, and the socket's ERR line; and the one wording of an unknown sequence.
#include <doctest/doctest.h>

#include <string>

#include "common/errors.hpp"
#include "common/names.hpp"
#include "common/protocol.hpp"
#include "daemon/api/http_request.hpp"
#include "daemon/api/router.hpp"

using pez::Errc;
using pez::Error;
using pez::daemon::error_reply;
using pez::daemon::failure_reply;
using pez::daemon::log_text;
using pez::daemon::Reply;
using pez::daemon::reply_body;

namespace {

Reply routed(std::string_view method, std::string_view target) {
  auto r = pez::daemon::route(method, target, 100);
  REQUIRE(std::holds_alternative<Reply>(r.what));
  return std::get<Reply>(r.what);
}

// The Error a reply carries, or an internal one that no check here expects.
Error error_of(Reply const& reply) { return reply.error.value_or(Error{Errc::internal, "(no error)"}); }

std::string socket_line(Error const& error) {
  std::string out;
  pez::proto::append_error(out, error.code, error.message);
  return out;
}

}  // namespace

TEST_CASE("errors: an unknown sequence is worded in one place, its name quoted as untrusted") {
  CHECK(pez::not_found("tickets").code == Errc::not_found);
  CHECK(pez::not_found("tickets").message == "no sequence named \"tickets\"");
  CHECK(pez::not_found(std::string("a\x01\"b\n", 5)).message == "no sequence named \"a\\x01\\\"b\\n\"");
  // Over HTTP a path that cannot be a sequence's is no sequence: the same words, the raw name
  // quoted, then the rule it breaks.
  auto const reply = routed("GET", std::string("/v1/a\x01z", 7));
  CHECK(reply.status == 404);
  CHECK(reply.error.has_value());
  CHECK(error_of(reply).code == Errc::not_found);
  CHECK(error_of(reply).message.starts_with("no sequence named \"a\\x01z\" (sequence name \"a\\x01z\" contains"));
  CHECK(error_of(routed("GET", "/v1/No_Such")).message ==
        "no sequence named \"No_Such\" (sequence name \"No_Such\" does not start with a-z: a name is " +
            std::string(pez::k_sequence_name_rule) + ")");
}

TEST_CASE("errors: the HTTP body of an error answer is written from its Error, with the request id") {
  auto const reply = error_reply(pez::not_found("nosuch"));
  CHECK(reply.status == 404);
  CHECK(reply.body.empty());
  CHECK(reply_body(reply, {}) == "{\"error\": \"no sequence named \\\"nosuch\\\"\"}\n");
  CHECK(reply_body(reply, "h3-7") == "{\"error\": \"no sequence named \\\"nosuch\\\"\", \"request_id\": \"h3-7\"}\n");
  // Control characters become JSON escapes.
  CHECK(reply_body(error_reply({Errc::bad_request, std::string("a\x01\n", 3)}), {}) ==
        "{\"error\": \"a\\u0001\\n\"}\n");

  std::string out;
  pez::daemon::append_response(out, 11, true, false, reply, true, "h3-7");
  auto const body = reply_body(reply, "h3-7");
  CHECK(out.find("HTTP/1.1 404 Not Found\r\n") == 0);
  CHECK(out.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(out.find("X-Request-Id: h3-7\r\n") != std::string::npos);
  CHECK(out.ends_with("\r\n\r\n" + body));
  // HEAD: the same length, no body.
  std::string head;
  pez::daemon::append_response(head, 11, true, true, reply, true, "h3-7");
  CHECK(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\n"));

  // A JSON body of an error status that is not an Error's (GET /readyz) carries the id as well.
  Reply not_ready{503, "{\"status\": \"not ready\", \"error\": \"x\"}\n"};
  CHECK(reply_body(not_ready, "h1-2") == "{\"status\": \"not ready\", \"error\": \"x\", \"request_id\": \"h1-2\"}\n");
  // Answers below 400 have no id in their body.
  Reply const ok{200, "[1, 2]\n"};
  CHECK(reply_body(ok, "h1-3") == "[1, 2]\n");
}

TEST_CASE("errors: an error answer's status comes from its kind unless HTTP has its own") {
  CHECK(error_reply({Errc::bad_request, "x"}).status == 400);
  CHECK(error_reply({Errc::denied, "x"}).status == 403);
  CHECK(error_reply({Errc::conflict, "x"}).status == 409);
  CHECK(error_reply({Errc::too_large, "x"}).status == 413);
  CHECK(error_reply({Errc::internal, "x"}).status == 500);
  auto const away = error_reply({Errc::unavailable, "x"});
  CHECK(away.status == 503);
  CHECK(away.retry_after);
  CHECK(error_reply({Errc::misconfigured, "x"}).retry_after);
  auto const method = error_reply(405, {Errc::bad_request, "x"});
  CHECK(method.status == 405);
  CHECK(method.allow == pez::daemon::k_allowed_methods);
  CHECK(error_reply(401, {Errc::denied, "x"}).status == 401);
  CHECK(error_reply(431, {Errc::too_large, "x"}).status == 431);
}

TEST_CASE("errors: the log's text of an error answer") {
  // The message as the body writes it, after the status.
  CHECK(log_text(error_reply(pez::not_found("nosuch"))) == "404 no sequence named \\\"nosuch\\\"");
  CHECK(log_text(error_reply({Errc::bad_request, "count must be 1"})) == "400 count must be 1");
  // A database that is away: the client is told a few words, the log gets libpq's text.
  auto const away =
      failure_reply({Errc::unavailable,
                     "the database is unavailable: connection to server on socket \"/x\" failed; try again later"});
  CHECK(reply_body(away, {}) == "{\"error\": \"the database is unavailable; try again later\"}\n");
  CHECK(log_text(away) ==
        "503 the database is unavailable: connection to server on socket \"/x\" failed; try again later");
  auto const plain = failure_reply({Errc::unavailable, "the database is unavailable; try again later"});
  CHECK(plain.log_detail.empty());
  CHECK(log_text(plain) == "503 the database is unavailable; try again later");
  // Other kinds are answered as they are.
  auto const exhausted = failure_reply({Errc::exhausted, "sequence \"t\" has handed out its last number"});
  CHECK(exhausted.status == 409);
  CHECK(error_of(exhausted).message == "sequence \"t\" has handed out its last number");
  // An answer with a body of its own and a log_detail (GET /readyz) logs the detail.
  Reply not_ready{503, "{\"status\": \"not ready\", \"error\": \"x\"}\n"};
  not_ready.log_detail = "the database is unavailable: down";
  CHECK(log_text(not_ready) == "503 the database is unavailable: down");
}

TEST_CASE("errors: the socket's line of an error, which is also its log text") {
  CHECK(socket_line(pez::not_found("nosuch")) == "ERR not-found no sequence named \"nosuch\"\n");
  CHECK(socket_line({Errc::unavailable, "down\r\nreally"}) == "ERR unavailable down  really\n");
  CHECK(socket_line({Errc::internal, ""}) == "ERR internal error\n");
}
