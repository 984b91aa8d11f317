#include "daemon/router.hpp"

#include <vector>

#include "common/admin.hpp"
#include "common/count.hpp"
#include "common/format.hpp"
#include "common/names.hpp"
#include "common/text.hpp"
#include "common/version.hpp"

namespace pez::daemon {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What a number path's query asks for.
struct NumberQuery {
  std::uint32_t count = 1;
  NumberForm form = NumberForm::number;
};

constexpr std::string_view k_as_values = "the only value is as=string (the numbers as JSON strings)";

// The query of /v1/NAME (as=string or nothing) or /v2/NAME (count=N, or a bare N, and as=string).
std::variant<NumberQuery, Reply> parse_number_query(std::string_view query, bool v2, std::string_view name,
                                                    std::uint32_t max_count) {
  NumberQuery result;
  bool count_seen = false;
  bool as_seen = false;
  auto const max = std::to_string(max_count);
  auto const allowed = v2 ? "the parameters are count, a whole number from 1 to " + max + ", and as=string"
                          : "/v1/" + std::string(name) + " takes only as=string; for several numbers use /v2/" +
                                std::string(name) + "?count=N";
  for (auto part : split(query, '&')) {
    if (part.empty()) continue;
    auto const eq = part.find('=');
    std::string key;
    std::string value;
    bool const bare = eq == std::string_view::npos;
    if (!percent_decode(part.substr(0, bare ? part.size() : eq), key) ||
        (!bare && !percent_decode(part.substr(eq + 1), value))) {
      return error_reply(400, "malformed %-escape in query " + quote_untrusted(query));
    }
    if (v2 && bare && !key.empty() && key[0] >= '0' && key[0] <= '9') {
      value = key;  // "/v2/forward?99" means count=99, as the original service allowed; "?99&as=string" too
      key = "count";
    } else if (v2 && bare && key == "count") {
      return error_reply(400, count_error("", max) + ", as in count=5");
    } else if (bare && key == "as") {
      return error_reply(400, std::string("as needs a value; ") + std::string(k_as_values));
    } else if (bare) {
      return error_reply(400, "unknown parameter " + quote_untrusted(key) + "; " + allowed);
    }
    if (key == "as") {
      if (as_seen) return error_reply(400, "as is given more than once; give it once, as=string");
      as_seen = true;
      if (value.empty()) return error_reply(400, std::string("as needs a value; ") + std::string(k_as_values));
      if (value != "string") {
        return error_reply(400, "as=" + quote_untrusted(value) + " is not known; " + std::string(k_as_values));
      }
      result.form = NumberForm::string;
      continue;
    }
    if (!v2 || key != "count") return error_reply(400, "unknown parameter " + quote_untrusted(key) + "; " + allowed);
    if (count_seen) {
      return error_reply(400, "count is given more than once; give it once, a whole number from 1 to " + max);
    }
    count_seen = true;
    auto parsed = parse_count(value, max_count);
    if (!parsed) return error_reply(400, parsed.error());
    result.count = *parsed;
  }
  return result;
}

constexpr std::string_view k_as_description =
    "\"as\": \"string: the numbers as JSON strings, safe for JavaScript (default: bare JSON numbers)\"";

Reply describe(std::string_view description, std::string_view parameters) {
  std::string body = "{\"description\": " + json_string(description) +
                     ", \"verbs\": [\"GET\", \"HEAD\", \"OPTIONS\"], \"parameters\": {" + std::string(parameters) +
                     "}}\n";
  Reply reply{200, std::move(body)};
  reply.allow = k_allowed_methods;
  return reply;
}

// GET /: what a person or a client finds here, so that the root is not a bare 404.
Reply index_reply(std::uint32_t max_count) {
  std::string body = "{\"service\": \"pezd\", \"version\": " + json_string(k_version) + ", \"endpoints\": {";
  bool first = true;
  auto const endpoint = [&body, &first](std::string_view path, std::string_view what) {
    body += (first ? "" : ", ") + json_string(path) + ": " + json_string(what);
    first = false;
  };
  endpoint("/v1/NAME",
           "one number from sequence NAME (forward, reverse or a named one), as a bare number; "
           "?as=string gives it as a JSON string");
  endpoint("/v2/NAME?count=N", "a JSON list of N numbers from sequence NAME, N from 1 to " + std::to_string(max_count) +
                                   "; &as=string gives them as JSON strings");
  endpoint("/healthz", "200 while pezd runs");
  endpoint("/readyz", "200 when pezd can hand out numbers now, else 503 with the reason");
  endpoint("/metrics", "counters in the Prometheus text format");
  endpoint("/admin/sequences", "list, inspect, create, reset and drop sequences, with the admin token (when set)");
  body += "}, \"documentation\": \"pezd(8)\"}\n";
  Reply reply{200, std::move(body)};
  return reply;
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

Reply error_reply(unsigned status, std::string_view message) {
  Reply reply{status, error_body(message)};
  if (status == 405) reply.allow = k_allowed_methods;
  if (status == 503) reply.retry_after = true;
  return reply;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view scheme = "Bearer ";
  if (token.empty() || authorization.size() < scheme.size()) return false;
  bool scheme_ok = true;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    auto const lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    scheme_ok = scheme_ok && lower(authorization[i]) == lower(scheme[i]);
  }
  auto const given = authorization.substr(scheme.size());
  // Every byte of the token is looked at whatever the given one holds.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    auto const g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = static_cast<unsigned char>(diff | (g ^ static_cast<unsigned char>(token[i])));
  }
  return scheme_ok && diff == 0;
}

std::optional<Route> route_admin(std::string_view method, std::string_view target, std::string_view body, bool enabled,
                                 bool authorized) {
  auto const qmark = target.find('?');
  auto const path = target.substr(0, qmark);
  if (path != "/admin" && !path.starts_with("/admin/")) return std::nullopt;
  if (!enabled) {
    return Route{error_reply(404, "no such resource " + quote_untrusted(path) +
                                      "; the HTTP admin routes are off (setting admin_token_file turns them on)")};
  }
  if (!authorized) {
    Reply reply = error_reply(401, "the admin routes need the header Authorization: Bearer TOKEN, with the token "
                                   "of pezd's admin_token_file");
    reply.bearer_challenge = true;
    return Route{std::move(reply)};
  }
  if (qmark != std::string_view::npos) return Route{error_reply(400, "the admin routes take no query parameters")};
  auto const not_allowed = [&](std::string_view allow) {
    Reply reply = error_reply(405, "method " + quote_untrusted(method) + " is not allowed here; use " + std::string(allow));
    reply.allow = allow;
    return Route{std::move(reply)};
  };
  constexpr std::string_view base = "/admin/sequences";
  if (path == base || path == "/admin/sequences/") {
    if (method == "GET") return Route{AdminCommand{AdminCommand::Op::list, {}, {}, {}}};
    if (method == "POST") return Route{AdminCommand{AdminCommand::Op::create, {}, {}, std::string(body)}};
    return not_allowed("GET, POST");
  }
  if (!path.starts_with("/admin/sequences/")) {
    return Route{error_reply(404, "no such resource " + quote_untrusted(path) +
                                      "; the admin routes are /admin/sequences and /admin/sequences/NAME")};
  }
  auto rest = path.substr(base.size() + 1);
  bool const reset = rest.ends_with("/reset");
  if (reset) rest.remove_suffix(6);
  std::string name;
  if (!percent_decode(rest, name)) return Route{error_reply(400, "malformed %-escape in " + quote_untrusted(path))};
  if (auto ok = check_sequence_name(name); !ok) return Route{error_reply(400, ok.error())};
  if (reset) {
    if (method != "POST") return not_allowed("POST");
    auto to = parse_reset_body(body);
    if (!to) return Route{error_reply(400, to.error())};
    return Route{AdminCommand{AdminCommand::Op::reset, name, *to, {}}};
  }
  if (method == "GET") return Route{AdminCommand{AdminCommand::Op::inspect, name, {}, {}}};
  if (method == "DELETE") return Route{AdminCommand{AdminCommand::Op::drop, name, {}, {}}};
  return not_allowed("GET, DELETE");
}

Route route(std::string_view method, std::string_view target, std::uint32_t max_count) {
  auto const qmark = target.find('?');
  auto const path = target.substr(0, qmark);
  auto const query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

  if (path == "/") {
    if (method == "OPTIONS") return {describe("The endpoints of pezd.", "")};
    if (method != "GET" && method != "HEAD") {
      return {error_reply(405, "method " + quote_untrusted(method) + " is not allowed here; use GET, HEAD or OPTIONS")};
    }
    if (!query.empty()) return {error_reply(400, "/ takes no parameters"), method == "HEAD"};
    return {index_reply(max_count), method == "HEAD"};
  }

  enum class Kind { numbers_v1, numbers_v2, ops } kind;
  std::string_view name;
  OpsPage page = OpsPage::healthz;
  if (path.starts_with("/v1/")) {
    kind = Kind::numbers_v1;
    name = path.substr(4);
  } else if (path.starts_with("/v2/")) {
    kind = Kind::numbers_v2;
    name = path.substr(4);
  } else if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    kind = Kind::ops;
    page = path == "/healthz" ? OpsPage::healthz : path == "/readyz" ? OpsPage::readyz : OpsPage::metrics;
  } else {
    return {error_reply(404, "no such resource " + quote_untrusted(path) +
                                 "; numbers are at /v1/NAME and /v2/NAME?count=N, such as /v1/forward")};
  }
  if (kind != Kind::ops && !is_sequence_name(name)) {
    return {error_reply(404, "no sequence named " + quote_untrusted(name))};
  }

  bool const head = method == "HEAD";
  if (method == "OPTIONS") {
    if (kind == Kind::numbers_v1) {
      return {describe("One number from sequence " + std::string(name) + ", as a bare number and a newline.",
                       k_as_description),
              false, std::string(name)};
    }
    if (kind == Kind::numbers_v2) {
      return {describe("A JSON list of numbers from sequence " + std::string(name) + ".",
                       "\"count\": \"how many numbers, 1 to " + std::to_string(max_count) +
                           " (default 1); a bare number in the query also works\", " + std::string(k_as_description)),
              false, std::string(name)};
    }
    return {describe("pezd operations endpoint " + std::string(path) + ".", "")};
  }
  if (method != "GET" && !head) {
    return {error_reply(405, "method " + quote_untrusted(method) + " is not allowed here; use GET, HEAD or OPTIONS")};
  }

  if (kind == Kind::ops) {
    if (!query.empty()) return {error_reply(400, std::string(path) + " takes no parameters"), head};
    return {page, head};
  }
  auto parsed = parse_number_query(query, kind == Kind::numbers_v2, name, max_count);
  if (auto* reply = std::get_if<Reply>(&parsed)) return {std::move(*reply), head};
  auto const& numbers = std::get<NumberQuery>(parsed);
  return {TakeNumbers{std::string(name), numbers.count, kind == Kind::numbers_v2 ? 2 : 1, numbers.form}, head};
}

}  // namespace pez::daemon
