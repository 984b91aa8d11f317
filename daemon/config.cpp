// SPDX-License-Identifier: Apache-2.0
#include "daemon/config.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/count.hpp"
#include "common/suggest.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "daemon/db/tcp_settings.hpp"

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

// "pez (uid 998)", or "uid 54321" for a uid without a name.
std::string user_text(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> scratch(16384);
  if (getpwuid_r(uid, &pw, scratch.data(), scratch.size(), &found) == 0 && found != nullptr) {
    return std::string(pw.pw_name) + " (uid " + std::to_string(uid) + ")";
  }
  return "uid " + std::to_string(uid);
}

std::string user_name_or_uid(uid_t uid) {
  auto const text = user_text(uid);
  return text.starts_with("uid ") ? std::to_string(uid) : text.substr(0, text.find(' '));
}

constexpr std::size_t k_most_secret_line = 65536;

// The sections of pezd.conf(5), in its order; --help groups the flags as it does.
constexpr std::string_view k_groups[] = {"Listeners", "Administration", "Database", "Numbers", "Clients", "Logging"};

std::string group_of(std::string_view key) {
  for (std::string_view k : {"http", "socket", "socket_group"}) {
    if (key == k) return "Listeners";
  }
  for (std::string_view k : {"admin_group", "admin_token_file", "wrap_warning", "usage_interval"}) {
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

constexpr std::size_t k_help_width = 100;

// What --print-config shows in place of a secret.
constexpr std::string_view k_mask = "********";

}  // namespace

std::string secret_from_text(std::string_view text, SecretKind kind) {
  auto line = text.substr(0, text.find('\n'));
  if (kind == SecretKind::token) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  } else if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  return std::string(line);
}

std::expected<void, std::string> check_token_file(std::string const& path, mode_t mode, uid_t owner, uid_t self) {
  if ((mode & 077) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    return std::unexpected(path + " has mode " + octal +
                           ", so users other than its owner may read or change the token; make it private to "
                           "pezd's user: chmod 600 " +
                           path);
  }
  if (owner != self && owner != 0) {
    if (self == 0) {
      return std::unexpected(path + " is owned by " + user_text(owner) +
                             ", not by root, whom pezd runs as; give it to root: chown root " + path);
    }
    return std::unexpected(path + " is owned by " + user_text(owner) + ", not by pezd's user " + user_text(self) +
                           " or root; give it to pezd's user: chown " + user_name_or_uid(self) + " " + path);
  }
  return {};
}

std::optional<std::expected<std::pair<std::string, std::string>, std::string>> credential_password(
    settings::EnvLookup const& env) {
  auto const dir = env("CREDENTIALS_DIRECTORY");
  if (!dir || dir->empty()) return std::nullopt;
  std::string const path = *dir + "/db-password";
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    return std::unexpected("cannot read the systemd credential db-password (" + path + "): " + std::strerror(errno));
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  // The packaged file is empty until a password is written into it: then there is none.
  return std::pair{path, line};
}

std::expected<std::string, std::string> read_secret_file(std::string const& path, SecretKind kind) {
  bool const token = kind == SecretKind::token;
  std::string const advice = token ? "; put a long random token on its first line, such as: openssl rand -hex 32"
                                   : "; write the password on its first line";
  int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int const err = errno;
    std::string const what_to_do =
        err == EACCES   ? "; pezd's user must be able to read it"
        : err == ENOENT ? (token ? "; create it, with a long random token on its first line (such as: openssl rand "
                                   "-hex 32), or correct the path"
                                 : "; create it, with the password on its first line, or correct the path")
                        : std::string();
    return std::unexpected("cannot read " + path + ": " + std::strerror(err) + what_to_do);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } const closer{fd};
  if (token) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
    if (auto ok = check_token_file(path, st.st_mode, st.st_uid, ::geteuid()); !ok) return std::unexpected(ok.error());
  }
  // Only the first line counts: read up to its end.
  std::string text;
  char chunk[4096];
  while (text.find('\n') == std::string::npos) {
    if (text.size() > k_most_secret_line) {
      return std::unexpected("the first line of " + path + " is longer than " + std::to_string(k_most_secret_line) +
                             " bytes" + advice);
    }
    auto const n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  auto secret = secret_from_text(text, kind);
  if (secret.empty()) {
    return std::unexpected(path +
                           (token ? " holds no token (its first line is empty or white space)"
                                  : " holds no password (its first line is empty)") +
                           advice);
  }
  if (token && secret.size() < k_least_token_length) {
    return std::unexpected(path + " holds a token of fewer than " + std::to_string(k_least_token_length) +
                           " characters" + advice);
  }
  return secret;
}

namespace {

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

// Whether libpq reads the mask of --print-config as a secret of text.
bool holds_the_mask(std::string const& text) {
  auto secrets = secrets_in(text);
  return secrets && std::ranges::find(*secrets, k_mask) != secrets->end();
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

}  // namespace

std::string mask_conninfo(std::string_view conninfo) {
  // Neither a URI nor key=value: libpq takes it for a database name.
  if (!is_uri(conninfo) && conninfo.find('=') == std::string_view::npos) return std::string(conninfo);
  auto masked = is_uri(conninfo) ? mask_uri(std::string(conninfo)) : mask_pairs(conninfo);
  // libpq has the last word: a string it cannot read, or in which it still reads a secret, is
  // hidden whole, as where its password ends cannot be told.
  return libpq_sees_no_secret(masked) ? masked : std::string(k_mask);
}

std::string print_config(Config const& config) {
  Config scratch;
  auto const table = specs(scratch);
  std::string out = std::string("# pezd ") + k_version +
                    ": the effective settings and where each comes from (flag, env, file or default)\n";
  out += "# config file: " + (config.config_path.empty() ? std::string("none") : config.config_path) + "\n";
  for (auto const& spec : table) {
    auto const it = config.origins.find(spec.key);
    if (it == config.origins.end()) continue;
    auto const& origin = it->second;
    std::string value = origin.text;
    if (spec.secret && !value.empty()) {
      value = k_mask;
    } else if (spec.mask && !value.empty()) {
      value = spec.mask(value);
    }
    std::string line = spec.key + " = " + settings::config_text_value(value);
    if (line.size() < 40) line.resize(40, ' ');
    std::string where = std::string(settings::source_name(origin.source));
    if (origin.source != settings::Source::default_value) where += " " + origin.where;
    if (value != origin.text) where += " (masked: put the secret back or delete the line)";
    out += line + "  # " + where + "\n";
  }
  for (auto const* url : {"database_url", "listen_database_url"}) {
    auto const& text = std::string_view(url) == "database_url" ? config.database_url : config.listen_database_url;
    if (text.empty() && std::string_view(url) == "listen_database_url") continue;
    out += std::string("# libpq's TCP settings of the connections of ") + url +
           " (a dead server is noticed within about request_timeout; the URL may set them):\n";
    for (auto const& setting : tcp_settings(text, url, config.request_timeout)) {
      std::string line = "#   " + setting.key + " = " + setting.value;
      if (line.size() < 40) line.resize(40, ' ');
      out += line + "  # " + setting.origin + "\n";
    }
  }
  return out;
}

std::expected<void, std::string> check_config(Config const& config) {
  if (!config.socket_group.empty()) {
    if (auto gid = group_id(config.socket_group); !gid) {
      return std::unexpected("invalid value for setting socket_group (from " + config.origins.at("socket_group").where +
                             "): " + gid.error());
    }
  }
  return {};
}

std::string endpoint_text(Endpoint const& endpoint) {
  if (endpoint.host.find(':') != std::string::npos) return "[" + endpoint.host + "]:" + std::to_string(endpoint.port);
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

std::expected<gid_t, std::string> group_id(std::string const& name) {
  std::uint64_t numeric = 0;
  if (parse_decimal(name, numeric)) return static_cast<gid_t>(numeric);
  struct group buf {};
  struct group* found = nullptr;
  std::vector<char> scratch(16384);
  int const rc = getgrnam_r(name.c_str(), &buf, scratch.data(), scratch.size(), &found);
  if (rc != 0 || found == nullptr) {
    return std::unexpected("no group named " + name +
                           (rc != 0 ? " (" + std::string(std::strerror(rc)) + ")" : std::string()));
  }
  return found->gr_gid;
}

int auto_threads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, static_cast<unsigned>(k_max_threads)));
}

std::vector<Spec> specs(Config& cfg) {
  using namespace std::chrono_literals;
  std::vector<Spec> out;
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
  out.push_back(duration_spec("connect_timeout", cfg.connect_timeout, 100ms, 10min,
                              "Longest one attempt to connect to the database may take."));
  out.push_back(duration_spec("reconnect_max", cfg.reconnect_max, 10ms, 10min,
                              "Longest pause between attempts to reconnect to the database."));
  out.push_back(duration_spec("header_timeout", cfg.header_timeout, 100ms, 1h,
                              "Longest a client may take to send a whole request once it has started."));
  out.push_back(duration_spec("idle_timeout", cfg.idle_timeout, 100ms, 24h,
                              "Longest an open connection may sit idle between requests."));
  out.push_back(integer_spec("header_limit", cfg.header_limit, 1024, 1024 * 1024,
                             "Largest HTTP request line and headers, in bytes."));
  out.push_back(
      integer_spec("body_limit", cfg.body_limit, 0, 16 * 1024 * 1024, "Largest HTTP request body, in bytes."));
  out.push_back(integer_spec("line_limit", cfg.line_limit, 64, 1024 * 1024,
                             "Largest request line on the Unix socket, in bytes."));
  out.push_back(integer_spec("pipeline_limit", cfg.pipeline_limit, 1, 4096,
                             "Most requests of one connection that may be waiting for their answer."));
  out.push_back(integer_spec("max_connections", cfg.max_connections, 1, 1'000'000,
                             "Most client connections (HTTP and socket together) open at once. At the limit an idle "
                             "one is closed to make room (first those that never sent a request, the one idle the "
                             "longest first); when none is idle, the new one is answered 503 and closed. The default "
                             "is lowered at start to what the open-file limit "
                             "allows; a value set explicitly is kept, with a warning when the limit is lower."));
  for (auto& spec : out) spec.group = group_of(spec.key);
  return out;
}

namespace {

// Before the connection string, which overrides them (PQconnectStartParams' order).
void add_tcp_settings(ConnParams& params, std::string const& url, std::chrono::milliseconds request_timeout) {
  for (auto& setting : tcp_settings(url, "", request_timeout)) params.emplace_back(setting.key, setting.value);
}

}  // namespace

std::string database_text(Config const& config) {
  std::string out;
  for (auto const& [key, value] : config.conn_params()) {
    if (key == "password" || key == "fallback_application_name") continue;
    if (!out.empty()) out += ' ';
    if (key == "dbname" && value == config.database_url) {
      out += mask_conninfo(value);
    } else {
      out += key + "=" + value;
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
  return params;
}

std::string help_text(std::vector<settings::Spec> const& table) {
  std::string out =
      "pezd hands out unique numbers from PostgreSQL sequences over a Unix socket and HTTP.\n\n"
      "Usage: pezd [OPTIONS]\n"
      "       pezd [OPTIONS] --print-config | --check-config\n\nOptions:\n";
  out += settings::help_columns(
      {{"-h, --help", "Print this help and exit."},
       {"--version", "Print the version and exit."},
       {"--config PATH", "Config file to read (default /etc/pez/pezd.conf; env PEZ_CONFIG, empty for none)."},
       {"--print-config",
        "Print every setting's effective value and where it came from (flag, env, file or "
        "default), secrets masked, as a config file, and exit."},
       {"--check-config",
        "Check the settings, say whether they are valid, and exit (0 when they are, 78 when "
        "not)."}},
      k_help_width);
  for (auto group : k_groups) {
    std::vector<std::pair<std::string, std::string>> rows;
    for (auto const& spec : table) {
      if (spec.group != group || !spec.has_flag) continue;
      rows.emplace_back(spec.flag() + " " + spec.value_name,
                        spec.doc + (spec.default_text.empty() ? "" : " Default: " + spec.default_text + "."));
    }
    if (rows.empty()) continue;
    out += "\n" + std::string(group) + ":\n" + settings::help_columns(rows, k_help_width);
  }
  out += "\n" + settings::wrap_text(
                    "Every setting can also be set in the environment (PEZ_ and its name in capitals, "
                    "such as PEZ_MAX_COUNT) or in the config file (max_count = 250); a flag beats "
                    "the environment, which beats the file. db_password has no flag, so that it "
                    "never shows in ps(1). See pezd(8) and pezd.conf(5).",
                    k_help_width);
  return out;
}

namespace {

// The settings are wrong (not the command line): pezd exits with EX_CONFIG.
std::unexpected<Error> misconfigured(std::string message) {
  return std::unexpected(Error{Errc::misconfigured, std::move(message)});
}

}  // namespace

std::expected<Invocation, Error> load_config(int argc, char** argv, settings::EnvLookup const& env,
                                             std::vector<std::string> const& env_names) {
  Invocation invocation;
  Config& cfg = invocation.config;
  auto table = specs(cfg);

  CLI::App app{"pezd hands out unique numbers from PostgreSQL sequences over a Unix socket and HTTP.", "pezd"};
  app.set_version_flag("--version", std::string("pezd ") + k_version);
  app.footer(
      "Every setting can also be set in the environment (PEZ_ and the name in capitals, such as "
      "PEZ_MAX_COUNT) or in the config file. A flag beats the environment, which beats the file. "
      "See pezd(8) and pezd.conf(5).");
  std::string config_flag;
  app.add_option("--config", config_flag, "Config file to read (default /etc/pez/pezd.conf; PEZ_CONFIG)")
      ->type_name("PATH");
  bool print = false;
  bool check = false;
  app.add_flag("--print-config", print,
               "Print every setting's effective value and where it came from (flag, env, file or default), "
               "secrets masked, and exit");
  app.add_flag("--check-config", check, "Check the settings, say whether they are valid, and exit (0 when they are)");
  auto* migrate = app.add_subcommand(
      "migrate", "Apply the schema migrations of sql/ as the role pezd connects with, and exit (pezd migrate)");
  migrate->fallthrough();
  std::map<std::string, std::string> flags;
  for (auto const& spec : table) {
    if (!spec.has_flag) continue;
    auto* option = app.add_option_function<std::string>(
        spec.flag(), [&flags, key = spec.key](std::string const& value) { flags[key] = value; },
        spec.doc + (spec.default_text.empty() ? "" : " Default: " + spec.default_text + "."));
    option->type_name(spec.value_name);
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the last one given wins
  }
  try {
    app.parse(argc, argv);
  } catch (CLI::CallForHelp const&) {
    invocation.action = Invocation::Action::help;
    invocation.text = help_text(table);
    return invocation;
  } catch (CLI::CallForVersion const&) {
    invocation.action = Invocation::Action::version;
    invocation.text = std::string("pezd ") + k_version + "\n";
    return invocation;
  } catch (CLI::ParseError const& e) {
    return std::unexpected(Error{Errc::bad_request, std::string(e.what()) + " (pezd --help lists the options)"});
  }

  // The config file: --config, else PEZ_CONFIG (empty for none), else the default if it exists.
  std::string path;
  bool required = true;
  if (!config_flag.empty()) {
    path = config_flag;
  } else if (auto from_env = env("PEZ_CONFIG")) {
    path = *from_env;
  } else {
    path = k_default_config_path;
    required = false;
  }
  std::vector<settings::FileEntry> entries;
  if (!path.empty()) {
    std::ifstream in(path);
    if (in) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      auto parsed = settings::parse_config_text(buffer.str(), path);
      if (!parsed) return misconfigured(parsed.error());
      entries = std::move(*parsed);
      cfg.config_path = path;
    } else if (required || errno != ENOENT) {
      return misconfigured("cannot read config file " + path + ": " + std::strerror(errno) +
                           " (set --config or PEZ_CONFIG to another file, or PEZ_CONFIG= for none)");
    }
  }

  auto origins = settings::resolve(table, flags, env, entries, path);
  if (!origins) return misconfigured(origins.error());
  cfg.origins = std::move(*origins);

  // A misspelt variable would otherwise be ignored without a word.
  std::vector<std::string> known{"PEZ_CONFIG"};
  for (auto const& spec : table) known.push_back(spec.env());
  for (auto const& name : env_names) {
    if (std::ranges::find(known, name) != known.end()) continue;
    invocation.warnings.push_back("unknown environment variable " + name + did_you_mean(name, known) +
                                  " (pezd.conf(5) lists the settings; it is ignored)");
  }

  // The output of --print-config read back with its masks in place would connect with
  // "********" for a password.
  auto const masked = [&](std::string const& key) {
    return "invalid value for setting " + key + " (from " + cfg.origins.at(key).where +
           "): it holds ********, the mask pezd --print-config writes in place of a password; put the "
           "password back, or delete the setting";
  };
  if (cfg.db_password == k_mask) return misconfigured(masked("db_password"));
  if (holds_the_mask(cfg.database_url)) {
    return misconfigured(masked("database_url"));
  }
  if (!cfg.db_password_file.empty()) {
    auto secret = read_secret_file(cfg.db_password_file, SecretKind::password);
    if (!secret) {
      return misconfigured("invalid value for setting db_password_file (from " +
                           cfg.origins.at("db_password_file").where + "): " + secret.error());
    }
    cfg.db_password = *secret;
  } else if (auto credential = credential_password(env)) {
    if (!*credential) return misconfigured(credential->error());
    if (!(*credential)->second.empty()) {
      cfg.db_password = (*credential)->second;
      cfg.origins["db_password"] = settings::Origin{settings::Source::credential, (*credential)->first, "********"};
    }
  }
  if (cfg.socket_path == "off") cfg.socket_path.clear();
  if (!cfg.admin_token_file.empty()) {
    auto token = read_secret_file(cfg.admin_token_file, SecretKind::token);
    if (!token) {
      return misconfigured("invalid value for setting admin_token_file (from " +
                           cfg.origins.at("admin_token_file").where + "): " + token.error());
    }
    cfg.admin_token = *token;
  }
  if (!cfg.admin_group.empty()) {
    auto gid = group_id(cfg.admin_group);
    if (!gid) {
      return misconfigured("invalid value for setting admin_group (from " + cfg.origins.at("admin_group").where +
                           "): " + gid.error());
    }
    cfg.admin_gid = *gid;
  }
  if (cfg.block.min > cfg.block.max) {
    return misconfigured("invalid value for setting block_min (from " + cfg.origins.at("block_min").where +
                         "): it is above block_max (" + std::to_string(cfg.block.max) + ")");
  }
  if (cfg.socket_path.empty() && !cfg.http) {
    return misconfigured("both listeners are off (socket and http): set at least one of them");
  }
  if (migrate->parsed()) invocation.action = Invocation::Action::migrate;
  if (print) invocation.action = Invocation::Action::print_config;
  if (check) invocation.action = Invocation::Action::check_config;
  return invocation;
}

}  // namespace pez::daemon
