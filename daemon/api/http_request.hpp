// SPDX-License-Identifier: Apache-2.0
// One HTTP request as pezd reads it and its answer as pezd writes it, apart from any socket: the
// sessions of http_session.cpp use these, and so does the HTTP fuzzer (tests/fuzz/).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/api/router.hpp"

namespace pez::daemon {

// The parts of a request pezd uses. It lives as long as the session, so its strings keep their
// capacity from one request to the next.
struct RequestHead {
  std::string method;
  std::string target;
  std::string authorization;
  unsigned version = 11;
  std::string body;
};

// Beast's HTTP/1.1 request parser, keeping only what RequestHead holds (no copy of other headers).
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit RequestParser(RequestHead& out);

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;
  void on_request_impl(boost::beast::http::verb, string_view method, string_view target, int version,
                       error_code&) override;
  void on_response_impl(int, string_view, int, error_code&) override {}
  void on_field_impl(boost::beast::http::field field, string_view, string_view value, error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override;
  void on_finish_impl(error_code&) override {}

  RequestHead& m_out;
};

// The answer to a request that could not be read: 431 or 413 over a limit, 400 for bytes that
// are not HTTP; none when the connection itself ended or failed (there is no one to answer).
std::optional<Reply> unreadable_reply(boost::system::error_code const& ec, std::size_t header_limit,
                                      std::size_t body_limit);

// What to do with a request: the admin routes when they match, else the public ones.
Route route_http(RequestHead const& request, std::uint32_t max_count, std::string_view admin_token);

// The body an answer is sent with: an error answer's {"error": "message"}; with request_id, an
// answer of status 400 and above carries it too, as "request_id" (the id its log line has).
std::string reply_body(Reply const& reply, std::string_view request_id);

// What the log says of an error answer: its status, then its log_detail or else its message as
// its body writes it (JSON-escaped, so a client's report and the log read alike).
std::string log_text(Reply const& reply);

// Appends a whole response: status line, headers and (unless head) the body (reply_body).
// known_length: whether to send Content-Length; request_id, when not empty, is sent as
// X-Request-Id.
void append_response(std::string& out, unsigned version, bool keep_alive, bool head, Reply const& reply,
                     bool known_length, std::string_view request_id = {});

}  // namespace pez::daemon
