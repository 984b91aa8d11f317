// SPDX-License-Identifier: Apache-2.0
// Turns an HTTP method and target into what to do, without any I/O: a finished reply, numbers to
// take, a value to check, or an operations page. Every rule of DESIGN §2 about paths, methods and
// parameters is here (those of the query in query.cpp), read off the route table (route_table.hpp)
// that the OpenAPI document is written from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/errors.hpp"
#include "common/format.hpp"
#include "daemon/admin/admin_command.hpp"

namespace pez::daemon {

// A complete answer. An error answer carries its Error, not a body: the body ({"error": ...} with
// the request's id) and the log's line are written from it when the answer is sent
// (http_request.hpp).
struct Reply {
  Reply() = default;
  Reply(unsigned s, std::string b, std::string_view type = "application/json")
      : status(s), body(std::move(b)), content_type(type) {}

  unsigned status = 200;
  std::string body;            // empty when error is set
  std::optional<Error> error;  // an error answer
  std::string_view content_type = "application/json";
  std::string_view allow;         // sent as Allow when not empty
  bool retry_after = false;       // 503s tell clients when to come back
  bool bearer_challenge = false;  // 401s say which credentials to send
  std::string log_detail;         // what the log says of an error answer instead of its message
  // Logged at debug: /readyz's 503, the endpoint doing its job (a balancer polls it through an
  // outage), whose cause is logged when it begins.
  bool quiet = false;
};

// GET /v1/NAME (api 1) or /v2/NAME?count=N (api 2), the numbers written as form says (?as=string).
struct TakeNumbers {
  std::string name;
  std::uint32_t count = 1;
  int api = 1;  // 1 or 2: the JSON of /v1 or /v2 (the socket's NEXT ... json is 2); 0: the socket's words
  NumberForm form = NumberForm::number;
};

// GET /v1/NAME/check?value=V: whether V's check characters are right for NAME's format.
struct CheckValue {
  std::string name;
  std::string value;  // %-decoded, 1 to k_max_check_value bytes
};

enum class OpsPage { healthz, readyz, metrics, status };  // status: the socket's STATUS, in JSON

struct Route {
  using What = std::variant<Reply, TakeNumbers, OpsPage, AdminCommand, CheckValue>;
  Route(What w, bool is_head = false, std::string sequence = {})
      : what(std::move(w)), head(is_head), if_sequence(std::move(sequence)) {}

  What what;
  // HEAD: the same status and headers as GET, no body, no numbers taken; an error answer to a
  // HEAD has no body either.
  bool head = false;
  // The Reply stands only if this sequence exists (OPTIONS of a number path): the session asks
  // the catalog, as for HEAD, and answers 404 otherwise.
  std::string if_sequence;
  // The connection ends once this is answered (the socket's QUIT, or a line of garbage).
  bool close_after = false;
};

inline constexpr std::string_view k_allowed_methods = "GET, HEAD, OPTIONS";

Route route(std::string_view method, std::string_view target, std::uint32_t max_count);

// The admin routes under /admin/ (DESIGN §2), or nothing for another path. enabled: a token is
// configured; authorized: the request carried it. Bodies are JSON (common/admin.hpp).
std::optional<Route> route_admin(std::string_view method, std::string_view target, std::string_view body, bool enabled,
                                 bool authorized);

// Compares a request's Authorization header with the token, in time independent of where they differ.
bool bearer_matches(std::string_view authorization, std::string_view token);

// Decodes %XX escapes; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

// An error answer, with the HTTP status of the error's kind (errc_http_status) or one of HTTP's
// own (401, 405, 431).
Reply error_reply(Error error);
Reply error_reply(unsigned status, Error error);
// A 400 (bad_request) saying message.
Reply bad_request(std::string message);

// The answer to a request that failed with error. A database that is away is said in a few words,
// without libpq's text (socket paths, hosts, roles): that goes to the log, under the request's id.
Reply failure_reply(Error const& error);

}  // namespace pez::daemon
