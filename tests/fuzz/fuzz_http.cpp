// SPDX-License-Identifier: Apache-2.0
// Fuzzes pezd's handling of HTTP requests: the bytes one client sends on a connection (pipelined
// requests or garbage) go through Beast's parser with pezd's limits, the router and the answer
// writer, as an HTTP session does (daemon/net/http_server.cpp). Besides crashes and sanitizer
// reports, it stops on an answer that breaks DESIGN §2: a 500 for any input, an error body that
// is not a JSON object with an "error" string, a header that a client could read as two,
// numbers asked for outside 1..max_count, or a check value outside its bounds.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/format.hpp"
#include "common/names.hpp"
#include "daemon/api/http_request.hpp"
#include "daemon/api/route_table.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

using namespace pez::daemon;

void require(bool ok, char const* what, std::string_view context) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_http: %s\n%.*s\n", what, static_cast<int>(context.size()), context.data());
  std::abort();
}

void check_answer(Reply const& reply, unsigned version, bool head) {
  auto const written = reply_body(reply, "h1-1");
  require(reply.status >= 200 && reply.status < 600 && reply.status != 500, "an answer with status 500 or out of range",
          written);
  if (reply.status >= 400) {
    auto const body = nlohmann::json::parse(written, nullptr, false);
    require(!body.is_discarded() && body.is_object() && body.contains("error") && body["error"].is_string(),
            "an error body that is not {\"error\": \"...\"}", written);
  }
  std::string out;
  append_response(out, version, true, head, reply, true, "h1-1");
  auto const end = out.find("\r\n\r\n");
  require(end != std::string::npos, "an answer without the blank line after its headers", out);
  std::string_view headers(out.data(), end);
  for (std::size_t at = 0; at < headers.size();) {
    auto const next = headers.find("\r\n", at);
    auto const line = headers.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
    require(line.find_first_of("\r\n") == std::string_view::npos, "a header with a bare CR or LF in it", out);
    if (next == std::string_view::npos) break;
    at = next + 2;
  }
}

void check_route(Route const& route, unsigned version, std::uint32_t max_count) {
  if (auto const* reply = std::get_if<Reply>(&route.what)) {
    check_answer(*reply, version, route.head);
  } else if (auto const* check = std::get_if<CheckValue>(&route.what)) {
    require(pez::is_sequence_name(check->name), "a check of a name that is not a sequence name", check->name);
    require(!check->value.empty() && check->value.size() <= k_max_check_value, "a check value outside 1..64 bytes",
            check->value);
  } else if (auto const* take = std::get_if<TakeNumbers>(&route.what)) {
    require(pez::is_sequence_name(take->name), "numbers asked of a name that is not a sequence name", take->name);
    require(take->count >= 1 && take->count <= max_count, "a count outside 1..max_count", take->name);
    require(take->api == 1 || take->api == 2, "an API other than v1 and v2", take->name);
    // The answer a session would write with such numbers.
    std::vector<std::int64_t> numbers(take->count, 9223372036854775807);
    Reply answer;
    if (take->api == 1) {
      pez::append_v1_body(answer.body, numbers.front(), take->form);
    } else {
      pez::append_v2_body(answer.body, numbers, take->form);
    }
    check_answer(answer, version, route.head);
    // The body is JSON: one number or string (v1), a list of count of them (v2), each of the form asked for.
    auto const body = nlohmann::json::parse(answer.body, nullptr, false);
    require(!body.is_discarded(), "a number answer that is not JSON", answer.body);
    auto const is_form = [&](nlohmann::json const& v) {
      return take->form == pez::NumberForm::string ? v.is_string() : v.is_number_integer();
    };
    if (take->api == 1) {
      require(is_form(body), "a v1 answer that is not one number of the form asked for", answer.body);
    } else {
      require(body.is_array() && body.size() == take->count, "a v2 answer that is not a list of count", answer.body);
      for (auto const& v : body) require(is_form(v), "a v2 element not of the form asked for", answer.body);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  // The first byte picks the settings, so that small limits and the admin routes are reached too.
  if (size == 0) return 0;
  std::uint8_t const knobs = data[0];
  std::uint32_t const max_count = (knobs & 1) != 0 ? 100 : 3;
  std::string const token = (knobs & 2) != 0 ? "0123456789abcdef-token" : "";
  std::size_t const header_limit = (knobs & 4) != 0 ? 8192 : 1024;
  std::size_t const body_limit = (knobs & 8) != 0 ? 16384 : 16;
  std::string_view input(reinterpret_cast<char const*>(data) + 1, size - 1);

  RequestHead request;
  while (!input.empty()) {
    RequestParser parser(request);
    parser.header_limit(static_cast<std::uint32_t>(header_limit));
    parser.body_limit(body_limit);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      std::size_t used = 0;
      if (!input.empty()) {
        used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        input.remove_prefix(used);
        if (ec == boost::beast::http::error::need_more) ec = {};
        if (ec) break;
      }
      if (used == 0) {
        // Everything the client sent is in and the request is not whole: the connection ends.
        parser.put_eof(ec);
        if (!ec && !parser.is_done()) ec = boost::beast::http::error::partial_message;
        input = {};
        break;
      }
    }
    if (ec) {
      if (auto reply = unreadable_reply(ec, header_limit, body_limit)) check_answer(*reply, 11, false);
      return 0;  // the session answers once and closes
    }
    if (!parser.is_done()) return 0;
    check_route(route_http(request, max_count, token), request.version, max_count);
    if (!parser.keep_alive()) return 0;
  }
  return 0;
}
