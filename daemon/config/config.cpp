// SPDX-License-Identifier: Apache-2.0
// Loading pezd's settings: the command line, the config file, the environment, and what the
// settings name that is read at start (secret files, the admin group).
#include "daemon/config/config.hpp"

#include <grp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/count.hpp"
#include "common/suggest.hpp"
#include "common/version.hpp"
#include "daemon/config/config_detail.hpp"

namespace pez::daemon {
namespace {

using settings::Spec;

// The settings are wrong (not the command line): pezd exits with EX_CONFIG.
std::unexpected<Error> misconfigured(std::string message) {
  return std::unexpected(Error{Errc::misconfigured, std::move(message)});
}

// What the command line asked for: the options besides settings, and the settings given as
// flags (key -> value).
struct CommandLine {
  std::string config_flag;
  bool print = false;
  bool check = false;
  std::map<std::string, std::string> flags;
};

// Declares pezd's options, one for each setting that has a flag, and its subcommand migrate
// (returned) on app; what they are given goes to line.
CLI::App* add_options(CLI::App& app, std::vector<Spec> const& table, CommandLine& line) {
  app.set_version_flag("--version", std::string("pezd ") + k_version);
  app.footer(
      "Every setting can also be set in the environment (PEZ_ and the name in capitals, such as "
      "PEZ_MAX_COUNT) or in the config file. A flag beats the environment, which beats the file. "
      "See pezd(8) and pezd.conf(5).");
  app.add_option("--config", line.config_flag, "Config file to read (default /etc/pez/pezd.conf; PEZ_CONFIG)")
      ->type_name("PATH");
  app.add_flag("--print-config", line.print,
               "Print every setting's effective value and where it came from (flag, env, file or default), "
               "secrets masked, and exit");
  app.add_flag("--check-config", line.check,
               "Check the settings, say whether they are valid, and exit (0 when they are)");
  auto* migrate = app.add_subcommand(
      "migrate", "Apply the schema migrations of sql/ as the role pezd connects with, and exit (pezd migrate)");
  migrate->fallthrough();
  for (auto const& spec : table) {
    if (!spec.has_flag) continue;
    auto* option = app.add_option_function<std::string>(
        spec.flag(), [&flags = line.flags, key = spec.key](std::string const& value) { flags[key] = value; },
        spec.doc + (spec.default_text.empty() ? "" : " Default: " + spec.default_text + "."));
    option->type_name(spec.value_name);
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the last one given wins
  }
  return migrate;
}

// The config file and its entries (none when there is no file).
struct ConfigFile {
  std::string path;
  std::vector<settings::FileEntry> entries;
};

// The config file: --config, else PEZ_CONFIG (empty for none), else the default if it exists.
// cfg.config_path is set when one is read.
std::expected<ConfigFile, Error> read_config_file(std::string const& config_flag, settings::EnvLookup const& env,
                                                  Config& cfg) {
  ConfigFile file;
  bool required = true;
  if (!config_flag.empty()) {
    file.path = config_flag;
  } else if (auto from_env = env("PEZ_CONFIG")) {
    file.path = *from_env;
  } else {
    file.path = k_default_config_path;
    required = false;
  }
  if (file.path.empty()) return file;
  std::ifstream in(file.path);
  if (in) {
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto parsed = settings::parse_config_text(buffer.str(), file.path);
    if (!parsed) return misconfigured(parsed.error());
    file.entries = std::move(*parsed);
    cfg.config_path = file.path;
  } else if (required || errno != ENOENT) {
    return misconfigured("cannot read config file " + file.path + ": " + std::strerror(errno) +
                         " (set --config or PEZ_CONFIG to another file, or PEZ_CONFIG= for none)");
  }
  return file;
}

// A warning for each PEZ_ variable that is no setting's: a misspelt one would otherwise be
// ignored without a word.
std::vector<std::string> unknown_variables(std::vector<Spec> const& table, std::vector<std::string> const& env_names) {
  std::vector<std::string> warnings;
  std::vector<std::string> known{"PEZ_CONFIG"};
  for (auto const& spec : table) known.push_back(spec.env());
  for (auto const& name : env_names) {
    if (std::ranges::find(known, name) != known.end()) continue;
    warnings.push_back("unknown environment variable " + name + did_you_mean(name, known) +
                       " (pezd.conf(5) lists the settings; it is ignored)");
  }
  return warnings;
}

// The database password: not the mask of --print-config, and from db_password_file or the
// systemd credential when there is one.
std::expected<void, Error> read_db_password(Config& cfg, settings::EnvLookup const& env) {
  // The output of --print-config read back with its masks in place would connect with
  // "********" for a password.
  auto const masked = [&](std::string const& key) {
    return config_detail::invalid_setting(cfg, key,
                                          "it holds ********, the mask pezd --print-config writes in place of a "
                                          "password; put the password back, or delete the setting");
  };
  if (cfg.db_password == config_detail::k_mask) return misconfigured(masked("db_password"));
  if (config_detail::holds_the_mask(cfg.database_url)) {
    return misconfigured(masked("database_url"));
  }
  if (!cfg.db_password_file.empty()) {
    auto secret = read_secret_file(cfg.db_password_file, SecretKind::password);
    if (!secret) {
      return misconfigured(config_detail::invalid_setting(cfg, "db_password_file", secret.error()));
    }
    cfg.db_password = *secret;
  } else if (auto credential = credential_password(env)) {
    if (!*credential) return misconfigured(credential->error());
    if (!(*credential)->second.empty()) {
      cfg.db_password = (*credential)->second;
      cfg.origins["db_password"] = settings::Origin{settings::Source::credential, (*credential)->first, "********"};
    }
  }
  return {};
}

// The admin token from its file and the admin group's id.
std::expected<void, Error> read_admin_settings(Config& cfg) {
  if (!cfg.admin_token_file.empty()) {
    auto token = read_secret_file(cfg.admin_token_file, SecretKind::token);
    if (!token) {
      return misconfigured(config_detail::invalid_setting(cfg, "admin_token_file", token.error()));
    }
    cfg.admin_token = *token;
  }
  if (!cfg.admin_group.empty()) {
    auto gid = group_id(cfg.admin_group);
    if (!gid) {
      return misconfigured(config_detail::invalid_setting(cfg, "admin_group", gid.error()));
    }
    cfg.admin_gid = *gid;
  }
  return {};
}

// What no one setting's parser can check alone.
std::expected<void, Error> check_together(Config const& cfg) {
  if (cfg.block.min > cfg.block.max) {
    return misconfigured(config_detail::invalid_setting(
        cfg, "block_min", "it is above block_max (" + std::to_string(cfg.block.max) + ")"));
  }
  if (cfg.socket_path.empty() && !cfg.http) {
    return misconfigured("both listeners are off (socket and http): set at least one of them");
  }
  return {};
}

}  // namespace

std::expected<Invocation, Error> load_config(int argc, char** argv, settings::EnvLookup const& env,
                                             std::vector<std::string> const& env_names) {
  Invocation invocation;
  Config& cfg = invocation.config;
  auto table = specs(cfg);

  CLI::App app{"pezd hands out unique numbers from PostgreSQL sequences over a Unix socket and HTTP.", "pezd"};
  CommandLine line;
  auto* migrate = add_options(app, table, line);
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

  auto file = read_config_file(line.config_flag, env, cfg);
  if (!file) return std::unexpected(file.error());
  auto origins = settings::resolve(table, line.flags, env, file->entries, file->path);
  if (!origins) return misconfigured(origins.error());
  cfg.origins = std::move(*origins);
  invocation.warnings = unknown_variables(table, env_names);

  if (auto ok = read_db_password(cfg, env); !ok) return std::unexpected(ok.error());
  if (cfg.socket_path == "off") cfg.socket_path.clear();
  if (auto ok = read_admin_settings(cfg); !ok) return std::unexpected(ok.error());
  if (auto ok = check_together(cfg); !ok) return std::unexpected(ok.error());
  if (migrate->parsed()) invocation.action = Invocation::Action::migrate;
  if (line.print) invocation.action = Invocation::Action::print_config;
  if (line.check) invocation.action = Invocation::Action::check_config;
  return invocation;
}

std::string config_detail::invalid_setting(Config const& cfg, std::string const& key, std::string const& why) {
  return "invalid value for setting " + key + " (from " + cfg.origins.at(key).where + "): " + why;
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

}  // namespace pez::daemon
