// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/router.hpp"

#include <array>
#include <boost/beast/core/string.hpp>

#include "common/admin.hpp"
#include "common/format.hpp"
#include "common/names.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "daemon/api/openapi.hpp"
#include "daemon/api/query.hpp"
#include "daemon/api/route_table.hpp"

namespace pez::daemon {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The raw text of a path's {parameter} segments, in order.
using Captures = std::array<std::string_view, 2>;

// Whether path has the route's segments: literal ones equal, {parameter} ones anything but '/'.
bool matches(RouteSpec const& route, std::string_view path, Captures& captures) {
  // Most routes differ before their first parameter: a quick look first.
  if (route.literal.size() == route.path.size()) return path == route.path;
  if (!path.starts_with(route.literal)) return false;
  std::string_view pattern = route.path;
  std::size_t n = 0;
  while (!pattern.empty() && !path.empty()) {
    if (pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto const want = pattern.substr(0, pattern.find('/'));
    auto const got = path.substr(0, path.find('/'));
    if (want.starts_with('{')) {
      if (n == captures.size()) return false;
      captures[n++] = got;
    } else if (want != got) {
      return false;
    }
    pattern.remove_prefix(want.size());
    path.remove_prefix(got.size());
  }
  return pattern.empty() && path.empty();
}

RouteSpec const* find_route(std::string_view path, bool admin, Captures& captures) {
  for (auto const& route : route_table()) {
    if (route.admin != admin) continue;
    if (matches(route, path, captures) || (!route.alias.empty() && path == route.alias)) return &route;
  }
  return nullptr;
}

// "GET, HEAD or OPTIONS"
std::string in_words(std::vector<std::string_view> const& methods) {
  std::string out;
  for (std::size_t i = 0; i < methods.size(); ++i) {
    if (i > 0) out += i + 1 == methods.size() ? " or " : ", ";
    out += methods[i];
  }
  return out;
}

// 404 for a path that is no resource; hint says where the resources are.
Reply no_resource(std::string_view path, std::string_view hint) {
  return error_reply({Errc::not_found, "no such resource " + quote_untrusted(path) + std::string(hint)});
}

Reply not_allowed(RouteSpec const& route, std::string_view method) {
  Reply reply = error_reply(405, {Errc::bad_request, "method " + quote_untrusted(method) +
                                                         " is not allowed here; use " + in_words(route.methods)});
  reply.allow = route.allow;
  return reply;
}

// OPTIONS: what the resource is, its methods and the parameters of its GET.
Reply describe(RouteSpec const& route, std::string_view name, std::uint32_t max_count) {
  std::string body = "{\"description\": " + json_string(fill_in(route.summary, max_count, name)) + ", \"verbs\": [";
  for (std::size_t i = 0; i < route.methods.size(); ++i) body += (i > 0 ? ", " : "") + json_string(route.methods[i]);
  body += "], \"parameters\": {";
  if (auto const* get = find_operation(route, "GET")) {
    bool first = true;
    for (auto const& param : get->query) {
      body += (first ? "" : ", ") + json_string(param.name) + ": " + json_string(fill_in(param.description, max_count));
      first = false;
    }
  }
  body += "}}\n";
  Reply reply{200, std::move(body)};
  reply.allow = route.allow;
  return reply;
}

// GET /: what a person or a client finds here, so that the root is not a bare 404.
Reply index_reply(std::uint32_t max_count) {
  std::string body = "{\"service\": \"pezd\", \"version\": " + json_string(k_version) + ", \"endpoints\": {";
  bool first = true;
  for (auto const& route : route_table()) {
    if (route.index_key.empty()) continue;
    body +=
        (first ? "" : ", ") + json_string(route.index_key) + ": " + json_string(fill_in(route.index_text, max_count));
    first = false;
  }
  body += "}, \"documentation\": \"pezd(8)\"}\n";
  return Reply{200, std::move(body)};
}

// The name in a route's path, checked by its rule: not a sequence name is 404 on the public
// routes (no such resource) and 400 on the admin ones (a bad argument to a command).
std::variant<std::string, Reply> path_name(RouteSpec const& route, std::string_view raw) {
  if (route.path_params.empty()) return std::string();
  if (route.path_params.front().rule == Rule::sequence_name) {
    if (raw.empty()) {
      return error_reply({Errc::not_found,
                          "no sequence name in the path; numbers are at /v1/NAME and "
                          "/v2/NAME?count=N, such as /v1/forward"});
    }
    // Still 404, as for any name that is not there, but saying why no sequence has this one.
    if (auto ok = check_sequence_name(raw); !ok) {
      return error_reply({Errc::not_found, not_found(raw).message + " (" + ok.error() + ")"});
    }
    return std::string(raw);
  }
  std::string name;
  if (!percent_decode(raw, name)) return bad_request("malformed %-escape in " + quote_untrusted(raw));
  if (auto ok = check_sequence_name(name); !ok) return bad_request(ok.error());
  return name;
}

Route::What act(Operation const& op, std::string name, Parsed parsed, std::string_view body, std::uint32_t max_count) {
  using Op = AdminCommand::Op;
  switch (op.action) {
    case Action::index:
      return index_reply(max_count);
    case Action::numbers_v1:
      return TakeNumbers{std::move(name), 1, 1, parsed.form};
    case Action::numbers_v2:
      return TakeNumbers{std::move(name), parsed.count, 2, parsed.form};
    case Action::check:
      return CheckValue{std::move(name), std::move(parsed.value)};
    case Action::healthz:
      return OpsPage::healthz;
    case Action::readyz:
      return OpsPage::readyz;
    case Action::metrics:
      return OpsPage::metrics;
    case Action::openapi:
      return Reply{200, openapi_document(max_count)};
    case Action::admin_list:
      return AdminCommand{Op::list, {}, {}, {}};
    case Action::admin_create:
      return AdminCommand{Op::create, {}, {}, std::string(body)};
    case Action::admin_inspect:
      return AdminCommand{Op::inspect, std::move(name), {}, {}};
    case Action::admin_drop:
      return AdminCommand{Op::drop, std::move(name), {}, {}};
    case Action::admin_reset:
      return AdminCommand{Op::reset, std::move(name), parsed.to, {}};
  }
  return error_reply({Errc::not_found, "no such resource"});
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int const hi = hex_value(in[i + 1]);
    int const lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

Reply bad_request(std::string message) { return error_reply({Errc::bad_request, std::move(message)}); }

Reply error_reply(Error error) {
  auto const status = static_cast<unsigned>(errc_http_status(error.code));
  return error_reply(status, std::move(error));
}

Reply error_reply(unsigned status, Error error) {
  Reply reply;
  reply.status = status;
  reply.error = std::move(error);
  if (status == 405) reply.allow = k_allowed_methods;
  if (status == 503) reply.retry_after = true;
  return reply;
}

Reply failure_reply(Error const& error) {
  constexpr std::string_view k_away = "the database is unavailable; try again later";
  if (error.code != Errc::unavailable || !error.message.starts_with("the database is unavailable") ||
      error.message == k_away) {
    return error_reply(error);
  }
  Reply reply = error_reply({Errc::unavailable, std::string(k_away)});
  reply.log_detail = error.message;
  return reply;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view scheme = "Bearer ";
  if (token.empty() || authorization.size() < scheme.size()) return false;
  bool const scheme_ok = boost::beast::iequals(authorization.substr(0, scheme.size()), scheme);
  auto const given = authorization.substr(scheme.size());
  // Every byte of the token is looked at whatever the given one holds.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    auto const g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = static_cast<unsigned char>(diff | (g ^ static_cast<unsigned char>(token[i])));
  }
  return scheme_ok && diff == 0;
}

namespace {

std::optional<Route> admin_route(std::string_view method, std::string_view target, std::string_view body, bool enabled,
                                 bool authorized) {
  auto const qmark = target.find('?');
  auto const path = target.substr(0, qmark);
  if (path != "/admin" && !path.starts_with("/admin/")) return std::nullopt;
  if (!enabled) {
    return Route{no_resource(path, "; the HTTP admin routes are off (setting admin_token_file turns them on)")};
  }
  if (!authorized) {
    Reply reply = error_reply(401, {Errc::denied,
                                    "the admin routes need the header Authorization: Bearer TOKEN, with the token "
                                    "of pezd's admin_token_file"});
    reply.bearer_challenge = true;
    return Route{std::move(reply)};
  }
  if (qmark != std::string_view::npos) return Route{bad_request("the admin routes take no query parameters")};
  Captures captures{};
  RouteSpec const* spec = find_route(path, true, captures);
  if (spec == nullptr) {
    return Route{no_resource(path,
                             "; the admin routes are /admin/sequences, /admin/sequences/NAME and "
                             "/admin/sequences/NAME/reset")};
  }
  auto name = path_name(*spec, captures[0]);
  if (auto* reply = std::get_if<Reply>(&name)) return Route{std::move(*reply)};
  auto const* op = find_operation(*spec, method);
  if (op == nullptr) return Route{not_allowed(*spec, method)};
  Parsed parsed;
  if (op->request == Body::reset) {
    auto to = parse_reset_body(body);
    if (!to) return Route{bad_request(to.error())};
    parsed.to = *to;
  }
  return Route{act(*op, std::move(std::get<std::string>(name)), std::move(parsed), body, 0)};
}

}  // namespace

std::optional<Route> route_admin(std::string_view method, std::string_view target, std::string_view body, bool enabled,
                                 bool authorized) {
  auto answer = admin_route(method, target, body, enabled, authorized);
  // The admin routes answer no HEAD, and the refusal of one carries no body either.
  if (answer && method == "HEAD") answer->head = true;
  return answer;
}

Route route(std::string_view method, std::string_view target, std::uint32_t max_count) {
  auto const qmark = target.find('?');
  auto const path = target.substr(0, qmark);
  auto const query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

  bool const head = method == "HEAD";  // whatever the answer, it carries no body
  Captures captures{};
  RouteSpec const* spec = find_route(path, false, captures);
  if (spec == nullptr) {
    return {no_resource(path,
                        "; numbers are at /v1/NAME and /v2/NAME?count=N, such as /v1/forward, and GET / lists "
                        "every endpoint"),
            head};
  }
  auto checked = path_name(*spec, captures[0]);
  if (auto* reply = std::get_if<Reply>(&checked)) return {std::move(*reply), head};
  auto& name = std::get<std::string>(checked);
  // Whether the sequence exists is the catalog's to say: the session asks it before answering.
  if (method == "OPTIONS") return {describe(*spec, name, max_count), false, name};
  auto const* op = find_operation(*spec, method);
  if (op == nullptr) return {not_allowed(*spec, method), head};
  auto parsed = parse_query(*op, path, query, name, max_count);
  if (auto* reply = std::get_if<Reply>(&parsed)) return {std::move(*reply), head};
  return {act(*op, std::move(name), std::move(std::get<Parsed>(parsed)), {}, max_count), head};
}

}  // namespace pez::daemon
