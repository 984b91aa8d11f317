// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/http_request.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <ctime>

#include "common/format.hpp"
#include "common/text.hpp"

namespace pez::daemon {

namespace http = boost::beast::http;

namespace {

// "Date: Sun, 22 Nov 2026 10:00:00 GMT\r\n", formatted once a second.
std::string_view date_header() {
  thread_local std::time_t cached_second = 0;
  thread_local char line[64] = {};
  thread_local std::size_t length = 0;
  std::time_t const now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    length = std::strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  }
  return {line, length};
}

// {"error": "..."} becomes {"error": "...", "request_id": "h3-1"}.
void add_request_id(std::string& body, std::string_view id) {
  auto const close = body.rfind('}');
  if (close == std::string::npos || !body.starts_with('{')) return;
  body.insert(close, ", \"request_id\": \"" + std::string(id) + "\"");
}

}  // namespace

std::string reply_body(Reply const& reply, std::string_view request_id) {
  std::string body = reply.error ? error_body(reply.error->message) : reply.body;
  if (reply.status >= 400 && !request_id.empty()) add_request_id(body, request_id);
  return body;
}

std::string log_text(Reply const& reply) {
  std::string text = std::to_string(reply.status) + " ";
  if (!reply.log_detail.empty()) {
    text += reply.log_detail;
  } else if (reply.error) {
    append_json_escaped(text, reply.error->message);
  }
  return text;
}

void append_response(std::string& out, unsigned version, bool keep_alive, bool head, Reply const& reply,
                     bool known_length, std::string_view request_id) {
  // Number answers, most of all, are sent as they are.
  std::string rendered;
  std::string_view body = reply.body;
  if (reply.error || (reply.status >= 400 && !request_id.empty())) {
    rendered = reply_body(reply, request_id);
    body = rendered;
  }
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(reply.status);
  out += ' ';
  auto const reason = http::obsolete_reason(static_cast<http::status>(reply.status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  out += date_header();
  out += "Content-Type: ";
  out += reply.content_type;
  out += "\r\n";
  if (known_length) {
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  if (!reply.allow.empty()) {
    out += "Allow: ";
    out += reply.allow;
    out += "\r\n";
  }
  if (reply.retry_after) out += "Retry-After: 1\r\n";
  if (!request_id.empty()) {
    out += "X-Request-Id: ";
    out += request_id;
    out += "\r\n";
  }
  if (reply.bearer_challenge) out += "WWW-Authenticate: Bearer realm=\"pezd admin\"\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head) out += body;
}

RequestParser::RequestParser(RequestHead& out) : m_out(out) {
  m_out.method.clear();
  m_out.target.clear();
  m_out.authorization.clear();
  m_out.body.clear();
}

void RequestParser::on_request_impl(http::verb, string_view method, string_view target, int version, error_code&) {
  m_out.method.assign(method.data(), method.size());
  m_out.target.assign(target.data(), target.size());
  m_out.version = static_cast<unsigned>(version);
}

void RequestParser::on_field_impl(http::field field, string_view, string_view value, error_code&) {
  if (field == http::field::authorization) m_out.authorization.assign(value.data(), value.size());
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
  m_out.body.append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  m_out.body.append(body.data(), body.size());
  return body.size();
}

std::optional<Reply> unreadable_reply(boost::system::error_code const& ec, std::size_t header_limit,
                                      std::size_t body_limit) {
  if (ec == http::error::header_limit) {
    return error_reply(431, {Errc::too_large, "the request line and headers are larger than " +
                                                  std::to_string(header_limit) + " bytes (setting header_limit)"});
  }
  if (ec == http::error::body_limit) {
    return error_reply({Errc::too_large, "the request body is larger than " + std::to_string(body_limit) +
                                             " bytes (setting body_limit)"});
  }
  bool const not_http = ec.category() == http::make_error_code(http::error::bad_version).category();
  if (not_http && ec != http::error::partial_message && ec != http::error::end_of_stream) {
    return error_reply({Errc::bad_request, "malformed HTTP request: " + ec.message()});
  }
  return std::nullopt;
}

Route route_http(RequestHead const& request, std::uint32_t max_count, std::string_view admin_token) {
  auto admin = route_admin(request.method, request.target, request.body, !admin_token.empty(),
                           bearer_matches(request.authorization, admin_token));
  if (admin) return std::move(*admin);
  return route(request.method, request.target, max_count);
}

}  // namespace pez::daemon
