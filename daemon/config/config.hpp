// SPDX-License-Identifier: Apache-2.0
// pezd's settings: the one table that declares each of them (key, default, doc, parser), and
// the loaded result. The man page pezd.conf(5) and packaging/pezd.conf follow this table.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/protocol.hpp"
#include "common/settings.hpp"
#include "daemon/db/pg_connection.hpp"

namespace pez::daemon {

using Millis = std::chrono::milliseconds;

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;

  bool operator==(Endpoint const&) const = default;
};

enum class Mode { strict, block };

// The most event loop threads (setting threads).
inline constexpr int k_max_threads = 64;
// What threads = auto (the default) means: one event loop thread per CPU, 1 to k_max_threads.
int auto_threads();

struct BlockOptions {
  std::uint64_t min = 100;
  std::uint64_t max = 10'000'000;
  Millis duration{30'000};

  bool operator==(BlockOptions const&) const = default;
};

struct Config {
  std::optional<Endpoint> http;
  std::string socket_path = proto::k_default_socket_path;
  std::string socket_group;
  std::string admin_group;         // besides root and pezd's own user, may administer over the socket
  std::optional<gid_t> admin_gid;  // admin_group, resolved at start
  std::string admin_token_file;    // HTTP admin under /admin/ is on when set
  std::string admin_token;         // its contents
  double wrap_warning = 0.9;       // warn when this fraction of a sequence's range is used
  Millis usage_interval{10000};    // how often every sequence's position is read; 0: never

  std::string database_url;
  std::string listen_database_url;
  std::string db_host;
  std::string db_port;
  std::string db_name;
  std::string db_username;
  std::string db_password;
  std::string db_password_file;
  int db_connections = 2;
  bool require_synchronous_standby = false;
  int threads = auto_threads();

  std::uint32_t max_count = 100;
  Mode mode = Mode::strict;
  BlockOptions block;
  std::string log_level = "info";

  Millis request_timeout{5000};
  Millis admin_timeout{10000};
  Millis connect_timeout{5000};
  Millis reconnect_max{1000};
  Millis header_timeout{30000};
  Millis idle_timeout{60000};
  std::size_t header_limit = 8192;
  std::size_t body_limit = 16384;
  std::size_t line_limit = 1024;
  std::size_t pipeline_limit = 64;
  std::size_t max_connections = 10000;

  // Where each value came from (key -> origin), for logs and diagnostics.
  std::map<std::string, settings::Origin> origins;
  std::string config_path;

  // The libpq connection parameters these settings describe.
  ConnParams conn_params() const;
  // For listen_database_url: empty when it is not set.
  ConnParams listen_conn_params() const;

  bool operator==(Config const&) const = default;
};

// The declared settings, bound to the fields of cfg.
std::vector<settings::Spec> specs(Config& cfg);

inline constexpr char const k_default_config_path[] = "/etc/pez/pezd.conf";

// What the command line asked for besides settings.
struct Invocation {
  enum class Action { run, help, version, print_config, check_config, migrate } action = Action::run;
  std::string text;  // help text
  Config config;
  std::vector<std::string> warnings;  // such as an unknown PEZ_ variable: logged, and --check-config fails
};

// Reads flags, environment and config file. Errors name the setting and where its value came from.
// env_names: the PEZ_ variables set, each of which must be a setting's (else a warning). The
// error's kind says what was wrong, and so pezd's exit code (errc_exit_code): bad_request for the
// command line itself (EX_USAGE), misconfigured for the settings (EX_CONFIG).
std::expected<Invocation, Error> load_config(int argc, char** argv, settings::EnvLookup const& env,
                                             std::vector<std::string> const& env_names = {});

// pezd --help: the flags grouped as pezd.conf(5) groups the settings, within 100 columns.
std::string help_text(std::vector<settings::Spec> const& table);

// pezd --print-config: every setting's effective value and where it came from, as lines of a
// config file, secrets masked.
std::string print_config(Config const& config);

// pezd --check-config: what load_config cannot check without the machine (groups that must
// exist). Empty when all is well.
std::expected<void, std::string> check_config(Config const& config);

// A libpq connection string or URI with its password hidden.
std::string mask_conninfo(std::string_view conninfo);

// The database the settings name, as libpq keywords (database_url's password hidden, the
// db_password never shown), for pez status; "libpq's defaults" when they name none.
std::string database_text(Config const& config);

std::string endpoint_text(Endpoint const& endpoint);

// A group by name or number.
std::expected<gid_t, std::string> group_id(std::string const& name);

// A file holding a secret (pezd.conf(5)): a database password or the HTTP admin token.
enum class SecretKind { password, token };

// The secret in a file's text: its first line without its line ending (LF or CR LF); a token
// without any trailing white space either (spaces, tabs, CR). Empty when there is none.
std::string secret_from_text(std::string_view text, SecretKind kind);

// Whether a token file with this mode and owner may be used: none but its owner may have any
// access to it (as ssh asks of a private key), and its owner is pezd's user (self) or root.
// The error says what is wrong and what to do.
std::expected<void, std::string> check_token_file(std::string const& path, mode_t mode, uid_t owner, uid_t self);

// Reads a secret file (a token file's mode and owner checked first, on the file opened) and
// returns the secret in it; errors name the file and say what to do.
std::expected<std::string, std::string> read_secret_file(std::string const& path, SecretKind kind);

// The systemd credential db-password ($CREDENTIALS_DIRECTORY/db-password, LoadCredential= in the
// unit): its path and first line (empty for none), an error when it cannot be read, or nothing
// when there is no such credential.
std::optional<std::expected<std::pair<std::string, std::string>, std::string>> credential_password(
    settings::EnvLookup const& env);

// A token's least length.
inline constexpr std::size_t k_least_token_length = 16;

}  // namespace pez::daemon
