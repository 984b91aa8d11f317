// SPDX-License-Identifier: Apache-2.0
// The settings table: each setting's key, default, value name, doc, parser and checks, and the
// section of pezd.conf(5) it belongs to.
#include "daemon/config/config.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/count.hpp"
#include "common/text.hpp"

namespace pez::daemon {
namespace {

using settings::Spec;

std::expected<Endpoint, std::string> parse_endpoint(std::string_view text) {
  auto const expected = std::string("expected HOST:PORT such as 127.0.0.1:8000 or [::1]:8000, or off");
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    auto const close = text.find("]:");
    if (close == std::string_view::npos) return std::unexpected(expected);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto const colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::unexpected(expected);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::unexpected(expected);
  }
  std::uint64_t number = 0;
  if (host.empty() || !parse_decimal(port, number) || number > 65535) return std::unexpected(expected);
  return Endpoint{std::string(host), static_cast<std::uint16_t>(number)};
}

Spec text_spec(std::string key, std::string def, std::string value_name, std::string doc, std::string& target) {
  return Spec{std::move(key), std::move(def), std::move(value_name), std::move(doc),
              [&target](std::string_view text) -> std::expected<void, std::string> {
                target = std::string(text);
                return {};
              }};
}

Spec duration_spec(std::string key, Millis& target, Millis min, Millis max, std::string doc) {
  return Spec{std::move(key), settings::format_duration(target), "DURATION", std::move(doc),
              [&target, min, max](std::string_view text) -> std::expected<void, std::string> {
                auto value = settings::parse_duration(text, min, max);
                if (!value) return std::unexpected(value.error());
                target = *value;
                return {};
              }};
}

template <typename T>
Spec integer_spec(std::string key, T& target, std::int64_t min, std::int64_t max, std::string doc) {
  return Spec{std::move(key), std::to_string(target), "N", std::move(doc),
              [&target, min, max](std::string_view text) -> std::expected<void, std::string> {
                auto value = settings::parse_integer(text, min, max);
                if (!value) return std::unexpected(value.error());
                target = static_cast<T>(*value);
                return {};
              }};
}

// The section of pezd.conf(5) a setting is in (its k_groups, config_print.cpp, for --help).
std::string group_of(std::string_view key) {
  for (std::string_view k : {"http", "socket", "socket_group"}) {
    if (key == k) return "Listeners";
  }
  for (std::string_view k : {"admin_group", "admin_token_file", "admin_timeout", "wrap_warning", "usage_interval"}) {
    if (key == k) return "Administration";
  }
  if (key.ends_with("database_url") || key.starts_with("db_") || key == "connect_timeout" || key == "reconnect_max" ||
      key == "require_synchronous_standby") {
    return "Database";
  }
  for (std::string_view k : {"max_count", "mode", "block_min", "block_max", "block_duration", "request_timeout"}) {
    if (key == k) return "Numbers";
  }
  if (key == "log_level") return "Logging";
  return "Clients";
}

// The listeners: http, socket, socket_group.
void add_listener_specs(std::vector<Spec>& out, Config& cfg) {
  out.push_back(Spec{"http", "off", "ADDR",
                     "Address and port of the HTTP listener, such as 127.0.0.1:8000 or [::1]:8000; off for none.",
                     [&cfg](std::string_view text) -> std::expected<void, std::string> {
                       if (text == "off" || text.empty()) {
                         cfg.http.reset();
                         return {};
                       }
                       auto endpoint = parse_endpoint(text);
                       if (!endpoint) return std::unexpected(endpoint.error());
                       cfg.http = *endpoint;
                       return {};
                     }});
  out.push_back(text_spec("socket", cfg.socket_path, "PATH", "Path of the Unix socket that pez talks to; off for none.",
                          cfg.socket_path));
  out.push_back(text_spec("socket_group", "", "GROUP",
                          "Group that owns the socket file (mode 0660); default: the daemon's own group.",
                          cfg.socket_group));
}

// Who may administer, and what the daemon watches of the sequences.
void add_admin_specs(std::vector<Spec>& out, Config& cfg) {
  out.push_back(text_spec("admin_group", "", "GROUP",
                          "Group whose processes may administer sequences over the socket (pez admin), besides "
                          "root and pezd's own user: a client holding it among its groups when it connects; "
                          "default: none.",
                          cfg.admin_group));
  out.push_back(text_spec("admin_token_file", "", "PATH",
                          "File whose first line, without trailing white space, is the bearer token of the HTTP "
                          "admin routes under /admin/ (at least 16 characters); they exist only when this is set. "
                          "It must be owned by pezd's user or root, with no access for its group or others "
                          "(chmod 600).",
                          cfg.admin_token_file));
  out.push_back(Spec{"wrap_warning", "0.9", "FRACTION",
                     "Log a warning when a sequence has used this fraction of its range (0 to 1; 1 warns only "
                     "when it wraps or runs out).",
                     [&cfg](std::string_view text) -> std::expected<void, std::string> {
                       double value = 0;
                       std::string const copy(text);
                       char* end = nullptr;
                       value = std::strtod(copy.c_str(), &end);
                       if (copy.empty() || end != copy.c_str() + copy.size() || !(value > 0) || value > 1) {
                         return std::unexpected("expected a fraction above 0 and at most 1, such as 0.9");
                       }
                       cfg.wrap_warning = value;
                       return {};
                     }});
  out.push_back(Spec{"usage_interval", settings::format_duration(cfg.usage_interval), "DURATION",
                     "How often to read where every sequence stands, for the rates (numbers a second, all "
                     "daemons together) and exhaustion forecasts of pez admin list and /metrics: from 100ms "
                     "to 1h, or off for none.",
                     [&cfg](std::string_view text) -> std::expected<void, std::string> {
                       if (text == "off") {
                         cfg.usage_interval = Millis{0};
                         return {};
                       }
                       auto value = settings::parse_duration(text, Millis{100}, std::chrono::hours(1));
                       if (!value) return std::unexpected(value.error() + ", or off");
                       cfg.usage_interval = *value;
                       return {};
                     }});
}

// The database: where it is, how pezd logs in, how many connections, what it asks of it.
void add_database_specs(std::vector<Spec>& out, Config& cfg) {
  {
    auto spec = text_spec("database_url", "", "URL",
                          "libpq connection string or URI, multi-host allowed; the db_* settings override its parts.",
                          cfg.database_url);
    spec.apply = [&cfg](std::string_view text) -> std::expected<void, std::string> {
      if (!text.empty()) {
        char* error = nullptr;
        PQconninfoOption* options = PQconninfoParse(std::string(text).c_str(), &error);
        if (options == nullptr) {
          std::string const why = error ? first_line(error) : "out of memory";
          PQfreemem(error);
          return std::unexpected("libpq cannot read it: " + why);
        }
        PQconninfoFree(options);
      }
      cfg.database_url = std::string(text);
      return {};
    };
    spec.mask = mask_conninfo;
    out.push_back(std::move(spec));
  }
  {
    auto spec = text_spec("listen_database_url", "", "URL",
                          "A direct connection to the database, for LISTEN and the catalog, when database_url goes "
                          "through a connection pooler in transaction mode; db_username and the password apply to it "
                          "too.",
                          cfg.listen_database_url);
    spec.mask = mask_conninfo;
    out.push_back(std::move(spec));
  }
  out.push_back(text_spec("db_host", "", "HOST", "Database host name or socket directory (libpq host).", cfg.db_host));
  out.push_back(text_spec("db_port", "", "PORT", "Database port (libpq port).", cfg.db_port));
  out.push_back(text_spec("db_name", "", "NAME", "Database name (libpq dbname).", cfg.db_name));
  out.push_back(text_spec("db_username", "", "USER", "Database role (libpq user).", cfg.db_username));
  {
    auto spec = text_spec("db_password", "", "PASSWORD",
                          "Database password; prefer db_password_file. Never given as a flag.", cfg.db_password);
    spec.has_flag = false;
    spec.secret = true;
    out.push_back(std::move(spec));
  }
  out.push_back(text_spec("db_password_file", "", "PATH",
                          "File whose first line, without its line ending, is the database password.",
                          cfg.db_password_file));
  out.push_back(integer_spec("db_connections", cfg.db_connections, 1, 64,
                             "Database connections pezd keeps open to take numbers."));
  out.push_back(Spec{"require_synchronous_standby", "off", "on|off",
                     "Refuse to hand out numbers (unavailable) while the primary has no synchronous standby "
                     "configured (synchronous_standby_names empty), as a failover could then lose numbers already "
                     "handed out.",
                     [&cfg](std::string_view text) -> std::expected<void, std::string> {
                       auto value = settings::parse_choice(text, {"on", "off", "true", "false", "yes", "no"});
                       if (!value) return std::unexpected(value.error());
                       cfg.require_synchronous_standby = *value == "on" || *value == "true" || *value == "yes";
                       return {};
                     }});
}

// The threads, and how numbers are taken: the largest count, the mode and its blocks.
void add_allocation_specs(std::vector<Spec>& out, Config& cfg) {
  using namespace std::chrono_literals;
  out.push_back(Spec{"threads", "auto", "N",
                     "Event loop threads serving HTTP, or auto for one per CPU; the database and the socket "
                     "stay on the first.",
                     [&cfg](std::string_view text) -> std::expected<void, std::string> {
                       if (text == "auto") {
                         cfg.threads = auto_threads();
                         return {};
                       }
                       auto value = settings::parse_integer(text, 1, k_max_threads);
                       if (!value) return std::unexpected(value.error() + ", or auto");
                       cfg.threads = static_cast<int>(*value);
                       return {};
                     }});
  out.push_back(integer_spec("max_count", cfg.max_count, 1, 100000,
                             "Largest count one request may ask for (/v2 count, pez -n)."));
  out.push_back(Spec{"mode", "strict", "MODE",
                     "Allocation mode: strict takes every number from the database while the request waits; "
                     "block serves numbers from blocks reserved ahead.",
                     [&cfg](std::string_view text) -> std::expected<void, std::string> {
                       auto value = settings::parse_choice(text, {"strict", "block"});
                       if (!value) return std::unexpected(value.error());
                       cfg.mode = *value == "block" ? Mode::block : Mode::strict;
                       return {};
                     }});
  out.push_back(
      integer_spec("block_min", cfg.block.min, 1, 1'000'000'000, "Fewest numbers block mode reserves at once."));
  out.push_back(
      integer_spec("block_max", cfg.block.max, 1, 1'000'000'000'000, "Most numbers block mode reserves at once."));
  out.push_back(duration_spec("block_duration", cfg.block.duration, 1s, 24h,
                              "How long a block should last at the rate its sequence is used."));
}

// The log, the timeouts and the limits of clients.
void add_log_and_client_specs(std::vector<Spec>& out, Config& cfg) {
  using namespace std::chrono_literals;
  out.push_back(Spec{
      "log_level", cfg.log_level, "LEVEL", "Least severe log messages written to stderr.",
      [&cfg](std::string_view text) -> std::expected<void, std::string> {
        auto value = settings::parse_choice(text, {"trace", "debug", "info", "warning", "error", "critical", "off"});
        if (!value) return std::unexpected(value.error());
        cfg.log_level = *value;
        return {};
      }});
  out.push_back(duration_spec("request_timeout", cfg.request_timeout, 100ms, 10min,
                              "Longest a request waits for the database before it is answered 503."));
  out.push_back(duration_spec("admin_timeout", cfg.admin_timeout, 100ms, 10min,
                              "Longest an admin command (list, inspect, create, reset, drop) waits for the database "
                              "before it is answered unavailable."));
  out.push_back(duration_spec("connect_timeout", cfg.connect_timeout, 100ms, 10min,
                              "Longest one attempt to connect to the database may take."));
  out.push_back(duration_spec("reconnect_max", cfg.reconnect_max, 10ms, 10min,
                              "Longest pause between attempts to reconnect to the database."));
  out.push_back(duration_spec("header_timeout", cfg.header_timeout, 100ms, 1h,
                              "Longest a client may take to send a whole request once it has started."));
  out.push_back(duration_spec("idle_timeout", cfg.idle_timeout, 100ms, 24h,
                              "Longest an open connection may sit idle between requests."));
  out.push_back(integer_spec("header_limit", cfg.header_limit, 1024, std::int64_t{1024} * 1024,
                             "Largest HTTP request line and headers, in bytes."));
  out.push_back(integer_spec("body_limit", cfg.body_limit, 0, std::int64_t{16} * 1024 * 1024,
                             "Largest HTTP request body, in bytes."));
  out.push_back(integer_spec("line_limit", cfg.line_limit, 64, std::int64_t{1024} * 1024,
                             "Largest request line on the Unix socket, in bytes."));
  out.push_back(integer_spec("pipeline_limit", cfg.pipeline_limit, 1, 4096,
                             "Most requests of one connection that may be waiting for their answer."));
  out.push_back(integer_spec("max_connections", cfg.max_connections, 1, 1'000'000,
                             "Most client connections (HTTP and socket together) open at once. At the limit an idle "
                             "one is closed to make room (first those that never sent a request, the one idle the "
                             "longest first); when none is idle, the new one is answered 503 and closed. The default "
                             "is lowered at start to what the open-file limit "
                             "allows; a value set explicitly is kept, with a warning when the limit is lower."));
}

}  // namespace

std::string endpoint_text(Endpoint const& endpoint) {
  if (endpoint.host.find(':') != std::string::npos) return "[" + endpoint.host + "]:" + std::to_string(endpoint.port);
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

int auto_threads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, static_cast<unsigned>(k_max_threads)));
}

std::vector<Spec> specs(Config& cfg) {
  std::vector<Spec> out;
  // In this order --print-config writes them.
  add_listener_specs(out, cfg);
  add_admin_specs(out, cfg);
  add_database_specs(out, cfg);
  add_allocation_specs(out, cfg);
  add_log_and_client_specs(out, cfg);
  for (auto& spec : out) spec.group = group_of(spec.key);
  return out;
}

}  // namespace pez::daemon
