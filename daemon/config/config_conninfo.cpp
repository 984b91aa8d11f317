// SPDX-License-Identifier: Apache-2.0
// libpq connection strings: the parameters the settings describe, and their secrets hidden for
// --print-config and pez status.
#include "daemon/config/config.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "daemon/config/config_detail.hpp"
#include "daemon/db/tcp_settings.hpp"

namespace pez::daemon {
namespace {

using config_detail::k_mask;

// What pezd passes on of the server's words (answers, its log) is UTF-8: the server converts them
// from a database's encoding (a LATIN1 database's German "für" is one byte 0xFC otherwise). Last
// among the parameters, it is asked for whatever database_url or PGCLIENTENCODING say.
constexpr char const k_client_encoding[] = "UTF8";

bool secret_option(PQconninfoOption const& option) { return option.dispchar != nullptr && option.dispchar[0] == '*'; }

// Whether libpq calls the option secret ("*" in its list of options: password, sslpassword).
bool secret_keyword(std::string_view key) {
  static std::vector<std::string> const secret = [] {
    std::vector<std::string> out;
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse("", &error);
    PQfreemem(error);
    for (auto const* o = options; o != nullptr && o->keyword != nullptr; ++o) {
      if (secret_option(*o)) out.emplace_back(o->keyword);
    }
    PQconninfoFree(options);
    return out;
  }();
  return std::ranges::find(secret, key) != secret.end();
}

// The values libpq reads for the secret options of text; nothing when it cannot read text.
std::optional<std::vector<std::string>> secrets_in(std::string const& text) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return std::nullopt;
  std::vector<std::string> out;
  for (auto const* o = options; o->keyword != nullptr; ++o) {
    if (secret_option(*o) && o->val != nullptr && *o->val != '\0') out.emplace_back(o->val);
  }
  PQconninfoFree(options);
  return out;
}

// Whether libpq reads text and finds no secret in it but the mask.
bool libpq_sees_no_secret(std::string const& text) {
  auto secrets = secrets_in(text);
  return secrets && std::ranges::all_of(*secrets, [](std::string const& s) { return s == k_mask; });
}

bool is_uri(std::string_view text) { return text.starts_with("postgresql://") || text.starts_with("postgres://"); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// postgresql://user:PASSWORD@host/db?password=PASSWORD&sslpassword=PASSWORD
std::string mask_uri(std::string out) {
  auto const scheme_end = out.find("://") + 3;
  // As libpq reads it, the user part ends at the first @ before any /.
  auto const at = out.find_first_of("@/", scheme_end);
  if (at != std::string::npos && out[at] == '@') {
    auto const colon = out.find(':', scheme_end);
    if (colon < at) out.replace(colon + 1, at - colon - 1, k_mask);
  }
  for (auto from = out.find('?'); from != std::string::npos; from = out.find('&', from + 1)) {
    auto const key = from + 1;
    auto const end = std::min(out.find('&', key), out.size());
    auto const eq = out.find('=', key);
    if (eq < end && secret_keyword(std::string_view(out).substr(key, eq - key))) {
      out.replace(eq + 1, end - eq - 1, k_mask);
    }
  }
  return out;
}

// key=value pairs; a value is 'quoted', or bare up to white space, with \ escapes in both.
std::string mask_pairs(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    if (is_space(in[i])) {
      out += in[i++];
      continue;
    }
    auto const eq = in.find('=', i);
    if (eq == std::string_view::npos) {
      out.append(in.substr(i));
      break;
    }
    auto value = eq + 1;
    while (value < in.size() && is_space(in[value])) ++value;
    auto end = value;
    bool const quoted = end < in.size() && in[end] == '\'';
    if (quoted) ++end;
    while (end < in.size() && (quoted ? in[end] != '\'' : !is_space(in[end]))) end += in[end] == '\\' ? 2 : 1;
    end = std::min(end + (quoted ? 1 : 0), in.size());
    out.append(in.substr(i, value - i));
    out.append(secret_keyword(trim(in.substr(i, eq - i))) ? k_mask : in.substr(value, end - value));
    i = end;
  }
  return out;
}

// Before the connection string, which overrides them (PQconnectStartParams' order).
void add_tcp_settings(ConnParams& params, std::string const& url, std::chrono::milliseconds request_timeout) {
  for (auto& setting : tcp_settings(url, "", request_timeout)) params.emplace_back(setting.key, setting.value);
}

}  // namespace

std::string mask_conninfo(std::string_view conninfo) {
  // Neither a URI nor key=value: libpq takes it for a database name.
  if (!is_uri(conninfo) && conninfo.find('=') == std::string_view::npos) return std::string(conninfo);
  auto masked = is_uri(conninfo) ? mask_uri(std::string(conninfo)) : mask_pairs(conninfo);
  // libpq has the last word: a string it cannot read, or in which it still reads a secret, is
  // hidden whole, as where its password ends cannot be told.
  return libpq_sees_no_secret(masked) ? masked : std::string(k_mask);
}

bool config_detail::holds_the_mask(std::string const& text) {
  auto secrets = secrets_in(text);
  return secrets && std::ranges::find(*secrets, k_mask) != secrets->end();
}

std::string database_text(Config const& config) {
  std::string out;
  for (auto const& [key, value] : config.conn_params()) {
    if (key == "password" || key == "fallback_application_name" || key == "client_encoding") continue;
    if (!out.empty()) out += ' ';
    if (key == "dbname" && value == config.database_url) {
      out += mask_conninfo(value);
    } else {
      out.append(key).append("=").append(value);
    }
  }
  return out.empty() ? std::string("libpq's defaults (PG* variables)") : out;
}

ConnParams Config::conn_params() const {
  ConnParams params;
  add_tcp_settings(params, database_url, request_timeout);
  if (!database_url.empty()) params.emplace_back("dbname", database_url);
  auto add = [&params](char const* key, std::string const& value) {
    if (!value.empty()) params.emplace_back(key, value);
  };
  add("host", db_host);
  add("port", db_port);
  if (!db_name.empty()) params.emplace_back("dbname", db_name);
  add("user", db_username);
  add("password", db_password);
  params.emplace_back("fallback_application_name", "pezd");
  params.emplace_back("client_encoding", k_client_encoding);
  return params;
}

ConnParams Config::listen_conn_params() const {
  ConnParams params;
  if (listen_database_url.empty()) return params;
  add_tcp_settings(params, listen_database_url, request_timeout);
  params.emplace_back("dbname", listen_database_url);
  if (!db_username.empty()) params.emplace_back("user", db_username);
  if (!db_password.empty()) params.emplace_back("password", db_password);
  params.emplace_back("fallback_application_name", "pezd");
  params.emplace_back("client_encoding", k_client_encoding);
  return params;
}

}  // namespace pez::daemon
