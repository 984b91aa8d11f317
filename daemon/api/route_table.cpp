// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/route_table.hpp"

namespace pez::daemon {
namespace {

// Answers many operations share.
constexpr Answer k_unavailable{503, Body::error,
                               "The database is unavailable and no reserved numbers are left, pezd's database "
                               "settings are wrong, pezd refuses without a synchronous standby "
                               "(require_synchronous_standby), or pezd is shutting down. Retry-After says when to "
                               "try again."};
constexpr Answer k_busy{503, Body::error,
                        "pezd is shutting down, or has no room for another connection (max_connections). "
                        "Retry-After says when to try again."};
constexpr Answer k_no_parameters{400, Body::error, "A query was given: this path takes no parameters."};
constexpr Answer k_no_sequence{404, Body::error,
                               "No sequence of that name: the path's name is not a sequence name, "
                               "or no such sequence exists."};
constexpr Answer k_internal{500, Body::error,
                            "The database refused in a way pezd does not expect, such as pezd's role lacking a right "
                            "(sql/grants.sql); the message and pezd's log say what."};

// Answers of every admin operation.
constexpr Answer k_admin_bad{400, Body::error,
                             "A query (the admin routes take none), a name that is not a sequence "
                             "name, or a body with a bad field; the message says what is allowed."};
constexpr Answer k_admin_token{401, Body::error,
                               "No Authorization: Bearer header with pezd's admin token; "
                               "WWW-Authenticate says which credentials to send."};
constexpr Answer k_admin_denied{403, Body::error,
                                "pezd's database role may not do this; the owner of schema pez can, or can grant "
                                "the admin rights of sql/grants.sql."};
constexpr Answer k_admin_off{404, Body::error,
                             "The HTTP admin routes are off: setting admin_token_file turns them on."};
constexpr Answer k_admin_off_or_missing{404, Body::error,
                                        "No such sequence, or the HTTP admin routes are off (setting "
                                        "admin_token_file turns them on)."};
constexpr Answer k_too_large{413, Body::error, "The body is larger than the setting body_limit."};

Param sequence_name() {
  return {.name = "name",
          .rule = Rule::sequence_name,
          .required = true,
          .description =
              "A sequence: forward, reverse or a named one (1 to 48 characters of a-z, 0-9, _ and -, "
              "starting with a letter)."};
}

Param as_param() {
  return {.name = "as",
          .rule = Rule::as_string,
          .description = "string: the numbers as JSON strings, safe for JavaScript (default: bare JSON numbers)"};
}

std::vector<Answer> number_answers(Answer ok) {
  return {ok,
          {400, Body::error,
           "A bad count or as, an unknown parameter, or more numbers than a cycling sequence holds before it "
           "starts over; the message says what is allowed. No number is taken."},
          k_no_sequence,
          {409, Body::error,
           "The sequence does not cycle and has fewer numbers left than asked for; none are taken (see pezd(8), "
           "Running out)."},
          k_internal,
          k_unavailable};
}

RouteSpec numbers_v1() {
  Operation get{.method = "GET",
                .action = Action::numbers_v1,
                .id = "getNumber",
                .summary = "One number",
                .description =
                    "One number from the sequence, as a bare JSON number and a newline (71); with "
                    "as=string, or for a formatted sequence, a JSON string.",
                .query = {as_param()},
                .query_hint = "/v1/{name} takes only as=string; for several numbers use /v2/{name}?count=N",
                .answers = number_answers({200, Body::number, "One number and a newline."})};
  return {.path = "/v1/{name}",
          .tag = "numbers",
          .summary = "One number from sequence {name}, as a bare number and a newline.",
          .index_key = "/v1/NAME",
          .index_text =
              "one number from sequence NAME (forward, reverse or a named one), as a bare number; "
              "?as=string gives it as a JSON string",
          .path_params = {sequence_name()},
          .operations = {std::move(get)}};
}

RouteSpec numbers_v2() {
  Param const count{.name = "count",
                    .rule = Rule::count,
                    .description = "how many numbers, 1 to {max} (default 1); a bare number in the query also works"};
  Operation get{.method = "GET",
                .action = Action::numbers_v2,
                .id = "getNumbers",
                .summary = "A list of numbers",
                .description =
                    "A JSON list of count numbers from the sequence, in its direction ([30011, 30012]); "
                    "without count, one. A bare number as a parameter means count (?99). With "
                    "as=string, or for a formatted sequence, JSON strings.",
                .query = {count, as_param()},
                .query_hint = "the parameters are count, a whole number from 1 to {max}, and as=string",
                .answers = number_answers({200, Body::numbers, "A JSON list of the numbers and a newline."})};
  return {.path = "/v2/{name}",
          .tag = "numbers",
          .summary = "A JSON list of numbers from sequence {name}.",
          .index_key = "/v2/NAME?count=N",
          .index_text =
              "a JSON list of N numbers from sequence NAME, N from 1 to {max}; &as=string gives them as "
              "JSON strings",
          .path_params = {sequence_name()},
          .operations = {std::move(get)}};
}

RouteSpec check() {
  Param const value{.name = "value",
                    .rule = Rule::check_value,
                    .required = true,
                    .description =
                        "the number to check as the sequence renders it (1 to 64 bytes), such as "
                        "INV-2026-000042-7"};
  Operation get{
      .method = "GET",
      .action = Action::check,
      .id = "checkValue",
      .summary = "Check a formatted number",
      .description =
          "Whether value's check characters are right for the sequence's format, without taking a "
          "number: a form or a script can refuse a mistyped number.",
      .query = {value},
      .query_hint = "the only parameter is value, the number to check",
      .answers = {{200, Body::check, "Whether the value's check characters are right."},
                  {400, Body::error,
                   "value is missing, empty, longer than 64 bytes or given twice, or an unknown parameter was given; "
                   "or the sequence has no format, so its numbers carry no check characters: only formatted "
                   "sequences can be checked."},
                  k_no_sequence,
                  k_unavailable}};
  return {.path = "/v1/{name}/check",
          .tag = "numbers",
          .summary = "Whether a value's check characters are right for sequence {name}'s format.",
          .index_key = "/v1/NAME/check?value=V",
          .index_text = "{\"valid\": true} when V's check characters are right for formatted sequence NAME, else false",
          .path_params = {sequence_name()},
          .operations = {std::move(get)}};
}

// A page without parameters: the index, the operations pages, the OpenAPI document.
struct Page {
  std::string_view path;
  Action action;
  std::string_view id;
  std::string_view title;
  std::string_view summary;  // what OPTIONS says
  std::string_view index_text;
  Answer ok;
  Answer failed;
};

RouteSpec page(Page const& p) {
  Operation get{.method = "GET",
                .action = p.action,
                .id = p.id,
                .summary = p.title,
                .description = p.index_text,
                .answers = {p.ok, k_no_parameters, p.failed}};
  return {.path = p.path,
          .tag = p.action == Action::index || p.action == Action::openapi ? "about" : "operations",
          .summary = p.summary,
          .index_key = p.action == Action::index ? std::string_view{} : p.path,
          .index_text = p.index_text,
          .operations = {std::move(get)}};
}

std::vector<RouteSpec> public_routes() {
  std::vector<RouteSpec> routes;
  routes.push_back(page({"/",
                         Action::index,
                         "getIndex",
                         "The index",
                         "The endpoints of pezd.",
                         "the service, its version and each endpoint with a few words on what it answers",
                         {200, Body::index, "The index."},
                         k_busy}));
  routes.push_back(numbers_v1());
  routes.push_back(numbers_v2());
  routes.push_back(check());
  routes.push_back(page({"/healthz",
                         Action::healthz,
                         "getHealth",
                         "Liveness",
                         "pezd operations endpoint /healthz.",
                         "200 while pezd runs",
                         {200, Body::alive, "pezd runs."},
                         k_busy}));
  routes.push_back(page({"/readyz",
                         Action::readyz,
                         "getReadiness",
                         "Readiness",
                         "pezd operations endpoint /readyz.",
                         "200 when pezd can hand out numbers now, else 503 with the reason",
                         {200, Body::ready, "pezd can hand out numbers now."},
                         {503, Body::not_ready,
                          "pezd cannot hand out numbers now, or is shutting down; error says why. Retry-After says "
                          "when to ask again."}}));
  routes.push_back(page({"/metrics",
                         Action::metrics,
                         "getMetrics",
                         "Metrics",
                         "pezd operations endpoint /metrics.",
                         "counters in the Prometheus text format",
                         {200, Body::metrics, "The metrics pezd(8) lists, in the Prometheus text format 0.0.4."},
                         k_busy}));
  routes.push_back(page({"/openapi.json",
                         Action::openapi,
                         "getOpenApi",
                         "This document",
                         "The OpenAPI document of pezd's HTTP API.",
                         "this API as an OpenAPI 3.1 document, made from the table pezd routes by",
                         {200, Body::openapi, "The OpenAPI 3.1 document."},
                         k_busy}));
  return routes;
}

// The answers of an admin operation: ok, the refusals every one has, and its own.
std::vector<Answer> admin_answers(Answer ok, Answer not_found, std::vector<Answer> const& own = {}) {
  std::vector<Answer> answers{ok, k_admin_bad, k_admin_token, k_admin_denied, not_found};
  answers.insert(answers.end(), own.begin(), own.end());
  answers.push_back(k_internal);
  answers.push_back(k_unavailable);
  return answers;
}

Param admin_name() {
  return {.name = "name",
          .rule = Rule::admin_sequence_name,
          .required = true,
          .description =
              "A sequence: 1 to 48 characters of a-z, 0-9, _ and -, starting with a letter (%-escapes "
              "are decoded)."};
}

RouteSpec sequences_route() {
  Operation list{.method = "GET",
                 .action = Action::admin_list,
                 .id = "listSequences",
                 .summary = "List the sequences",
                 .description = "Every sequence with its settings and state, as the socket's LIST.",
                 .answers = admin_answers({200, Body::sequences, "Every sequence."}, k_admin_off)};
  Operation create{
      .method = "POST",
      .action = Action::admin_create,
      .id = "createSequence",
      .summary = "Create a sequence",
      .description = "Creates the sequence the body describes (the fields of the socket's CREATE).",
      .request = Body::create,
      .request_required = true,
      .answers = admin_answers({201, Body::sequence, "The sequence as created."}, k_admin_off,
                               {{409, Body::error, "A sequence of that name exists already."}, k_too_large})};
  return {.path = "/admin/sequences",
          .alias = "/admin/sequences/",
          .admin = true,
          .tag = "admin",
          .summary = "The sequences.",
          .index_key = "/admin/sequences",
          .index_text = "list, inspect, create, reset and drop sequences, with the admin token (when set)",
          .operations = {std::move(list), std::move(create)}};
}

RouteSpec sequence_route() {
  Operation inspect{.method = "GET",
                    .action = Action::admin_inspect,
                    .id = "inspectSequence",
                    .summary = "Inspect a sequence",
                    .description = "One sequence with its settings and state, as the socket's INSPECT.",
                    .answers = admin_answers({200, Body::sequence, "The sequence."}, k_admin_off_or_missing)};
  Operation drop{
      .method = "DELETE",
      .action = Action::admin_drop,
      .id = "dropSequence",
      .summary = "Drop a sequence",
      .description = "Drops the sequence; forward and reverse cannot be dropped.",
      .answers = admin_answers(
          {200, Body::dropped, "The sequence is dropped."}, k_admin_off_or_missing,
          {{409, Body::error, "forward and reverse are built in and cannot be dropped (reset them instead)."}})};
  return {.path = "/admin/sequences/{name}",
          .admin = true,
          .tag = "admin",
          .summary = "One sequence.",
          .path_params = {admin_name()},
          .operations = {std::move(inspect), std::move(drop)}};
}

RouteSpec reset_route() {
  Operation reset{
      .method = "POST",
      .action = Action::admin_reset,
      .id = "resetSequence",
      .summary = "Reset a sequence",
      .description =
          "Restarts the sequence: the next number is its start, or to. Every daemon drops "
          "what it holds reserved of it.",
      .request = Body::reset,
      .answers = admin_answers({200, Body::sequence, "The sequence as reset."}, k_admin_off_or_missing, {k_too_large})};
  return {.path = "/admin/sequences/{name}/reset",
          .admin = true,
          .tag = "admin",
          .summary = "Resetting one sequence.",
          .path_params = {admin_name()},
          .operations = {std::move(reset)}};
}

// The methods each route answers, for Allow and 405 answers, and the literal start of its path.
void fill_methods(RouteSpec& route) {
  for (auto const& op : route.operations) {
    route.methods.push_back(op.method);
    if (!route.admin && op.method == "GET") route.methods.push_back("HEAD");
  }
  if (!route.admin) route.methods.push_back("OPTIONS");
  route.literal = route.path.substr(0, route.path.find('{'));
  for (auto const method : route.methods) route.allow += (route.allow.empty() ? "" : ", ") + std::string(method);
}

}  // namespace

std::vector<RouteSpec> const& route_table() {
  static std::vector<RouteSpec> const table = [] {
    auto routes = public_routes();
    routes.push_back(sequences_route());
    routes.push_back(sequence_route());
    routes.push_back(reset_route());
    for (auto& route : routes) fill_methods(route);
    return routes;
  }();
  return table;
}

Operation const* find_operation(RouteSpec const& route, std::string_view method) {
  if (method == "HEAD" && !route.admin) method = "GET";
  for (auto const& op : route.operations) {
    if (op.method == method) return &op;
  }
  return nullptr;
}

std::string fill_in(std::string_view text, std::uint32_t max_count, std::string_view name) {
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i).starts_with("{max}")) {
      out += std::to_string(max_count);
      i += 4;
    } else if (!name.empty() && text.substr(i).starts_with("{name}")) {
      out += name;
      i += 5;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace pez::daemon
