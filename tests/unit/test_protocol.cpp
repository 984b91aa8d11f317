// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <vector>

#include "common/protocol.hpp"

namespace proto = pez::proto;
using pez::Errc;

TEST_CASE("protocol: NEXT with and without a count, verbs in any case, CR ignored") {
  auto r = proto::parse_request("NEXT forward 5", 100);
  REQUIRE(r.has_value());
  auto const& next = std::get<proto::Next>(*r);
  CHECK(next.name == "forward");
  CHECK(next.count == 5);

  r = proto::parse_request("next  reverse\r", 100);
  REQUIRE(r.has_value());
  CHECK(std::get<proto::Next>(*r).count == 1);
  CHECK(std::get<proto::Next>(*r).name == "reverse");
}

TEST_CASE("protocol: the other verbs") {
  CHECK(std::holds_alternative<proto::Hello>(proto::parse_request("HELLO 1", 100).value()));
  CHECK(std::holds_alternative<proto::Ping>(proto::parse_request("ping", 100).value()));
  CHECK(std::holds_alternative<proto::Status>(proto::parse_request("STATUS", 100).value()));
  CHECK(std::holds_alternative<proto::Quit>(proto::parse_request("Quit", 100).value()));
}

TEST_CASE("protocol: bad requests are errors with a code and a message that says what is allowed") {
  struct Case {
    char const* line;
    Errc code;
    char const* says;
  };
  for (auto c :
       {Case{"", Errc::bad_request, "NEXT"}, Case{"FROB", Errc::bad_request, "NEXT"},
        Case{"NEXT", Errc::bad_request, "NEXT forward 5"}, Case{"NEXT forward 0", Errc::bad_request, "1 to 100"},
        Case{"NEXT forward 101", Errc::bad_request, "1 to 100"},
        Case{"NEXT forward abc", Errc::bad_request, "1 to 100"},
        Case{"NEXT forward 1 2", Errc::bad_request, "NEXT forward 5"}, Case{"NEXT Bad", Errc::bad_request, "a-z"},
        Case{"NEXT a;b", Errc::bad_request, "a-z"}, Case{"HELLO", Errc::bad_request, "HELLO 1"},
        Case{"HELLO 2", Errc::unsupported_version, "version 1"}, Case{"PING now", Errc::bad_request, "no arguments"}}) {
    CAPTURE(c.line);
    auto r = proto::parse_request(c.line, 100);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == c.code);
    CHECK(r.error().message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("protocol: control bytes are refused") {
  std::string const line("NEXT forward\0", 13);
  CHECK(proto::has_control_bytes(line));
  CHECK_FALSE(proto::parse_request(line, 100).has_value());
  CHECK_FALSE(proto::has_control_bytes("NEXT\tforward 2\r"));
}

TEST_CASE("protocol: answers as written and read back (golden lines)") {
  std::string out;
  std::vector<std::int64_t> const values{1, 2, 9223372036854775807LL};
  proto::append_ok_numbers(out, values);
  CHECK(out == "OK 1 2 9223372036854775807\n");
  out.clear();
  proto::append_error(out, Errc::unavailable, "the database is down\nreally");
  CHECK(out == "ERR unavailable the database is down really\n");
  out.clear();
  proto::append_ok(out, "pong");
  CHECK(out == "OK pong\n");
  CHECK(proto::next_line("forward", 5) == "NEXT forward 5\n");
  CHECK(proto::hello_line() == "HELLO 1\n");

  CHECK(proto::parse_answer("OK 1 2 3").value() == "1 2 3");
  CHECK(proto::parse_answer("OK").value().empty());
  auto numbers = proto::parse_numbers("1 2 9223372036854775807");
  REQUIRE(numbers.has_value());
  CHECK(*numbers == std::vector<std::int64_t>{1, 2, 9223372036854775807LL});

  auto err = proto::parse_answer("ERR not-found no sequence named \"x\"");
  REQUIRE_FALSE(err.has_value());
  CHECK(err.error().code == Errc::not_found);
  CHECK(err.error().message == "no sequence named \"x\"");

  auto unknown = proto::parse_answer("ERR brand-new something");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == Errc::internal);
  CHECK_FALSE(proto::parse_answer("HELLO?").has_value());
  CHECK_FALSE(proto::parse_numbers("1 x").has_value());
}

TEST_CASE("every error code maps to a token, an HTTP status and an exit code, and back") {
  for (std::size_t i = 0; i < pez::k_errc_count; ++i) {
    auto const code = static_cast<Errc>(i);
    CAPTURE(i);
    CHECK(pez::errc_from_token(pez::errc_token(code)) == code);
    if (code != Errc::internal) CHECK(pez::errc_token(code) != pez::errc_token(Errc::internal));
  }
  CHECK(pez::errc_exit_code(Errc::bad_request) == 64);
  CHECK(pez::errc_exit_code(Errc::unavailable) == 75);
  CHECK(pez::errc_exit_code(Errc::denied) == 77);
  CHECK(pez::errc_http_status(Errc::exhausted) == 409);
  CHECK(pez::errc_http_status(Errc::unavailable) == 503);
  // Wrong database settings: not temporary for pez (EX_CONFIG), still unavailable over HTTP.
  CHECK(pez::errc_exit_code(Errc::misconfigured) == 78);
  CHECK(pez::errc_http_status(Errc::misconfigured) == 503);
}

TEST_CASE("protocol: the request builders write the golden lines") {
  CHECK(proto::hello_line() == "HELLO 1\n");
  CHECK(proto::next_line("forward", 5, true) == "NEXT forward 5 json\n");
  CHECK(proto::check_line("invoices", "INV-2026-000042-7") == "CHECK invoices INV-2026-000042-7\n");
  CHECK(proto::ping_line() == "PING\n");
  CHECK(proto::status_line() == "STATUS\n");
  CHECK(proto::quit_line() == "QUIT\n");
  CHECK(proto::list_line() == "LIST\n");
  CHECK(proto::inspect_line("tickets") == "INSPECT tickets\n");
  CHECK(proto::create_line(R"({"name":"tickets","start":1000})") == "CREATE {\"name\":\"tickets\",\"start\":1000}\n");
  CHECK(proto::reset_line("tickets") == "RESET tickets\n");
  CHECK(proto::reset_line("tickets", 9223372036854775807LL) == "RESET tickets 9223372036854775807\n");
  CHECK(proto::drop_line("tickets") == "DROP tickets\n");
}

TEST_CASE("protocol: every request written by its builder is read back as itself") {
  std::vector<proto::Request> const requests{
      proto::Hello{},
      proto::Next{"forward", 1, false},
      proto::Next{"forward", 100, true},
      proto::Check{"invoices", "INV-2026-000042-7"},
      proto::Ping{},
      proto::Status{},
      proto::Quit{},
      proto::List{},
      proto::Inspect{"tickets"},
      proto::Create{R"({"name": "tickets", "start": 1000, "description": "a b\tc"})"},
      proto::Reset{"tickets", std::nullopt},
      proto::Reset{"tickets", 1},
      proto::Reset{"tickets", 9223372036854775807LL},
      proto::Drop{"tickets"},
  };
  for (auto const& request : requests) {
    auto const line = proto::request_line(request);
    CAPTURE(line);
    REQUIRE(line.ends_with('\n'));
    CHECK(line.find('\n') == line.size() - 1);
    auto parsed = proto::parse_request(std::string_view(line).substr(0, line.size() - 1), 100);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == request);
    CHECK(proto::is_admin(*parsed) == proto::is_admin(request));
  }
}

TEST_CASE("protocol: the admin verbs are the admin requests") {
  CHECK(proto::is_admin(proto::List{}));
  CHECK(proto::is_admin(proto::Inspect{"x"}));
  CHECK(proto::is_admin(proto::Create{"{}"}));
  CHECK(proto::is_admin(proto::Reset{"x", std::nullopt}));
  CHECK(proto::is_admin(proto::Drop{"x"}));
  CHECK_FALSE(proto::is_admin(proto::Status{}));
  CHECK_FALSE(proto::is_admin(proto::Next{"x", 1, false}));
  CHECK_FALSE(proto::is_admin(proto::Check{"x", "1"}));
}
