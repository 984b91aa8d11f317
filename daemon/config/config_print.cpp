// SPDX-License-Identifier: Apache-2.0
// What pezd prints of its settings: --help, --print-config and --check-config.
#include "daemon/config/config.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/version.hpp"
#include "daemon/config/config_detail.hpp"
#include "daemon/db/tcp_settings.hpp"

namespace pez::daemon {
namespace {

// The sections of pezd.conf(5), in its order; --help groups the flags as it does (each setting's
// section is group_of's, in config_table.cpp).
constexpr std::string_view k_groups[] = {"Listeners", "Administration", "Database", "Numbers", "Clients", "Logging"};

constexpr std::size_t k_help_width = 100;

}  // namespace

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
      value = config_detail::k_mask;
    } else if (spec.mask && !value.empty()) {
      value = spec.mask(value);
    }
    std::string line = spec.key + " = " + settings::config_text_value(value);
    if (line.size() < 40) line.resize(40, ' ');
    std::string where = std::string(settings::source_name(origin.source));
    if (origin.source != settings::Source::default_value) where += " " + origin.where;
    if (value != origin.text) where += " (masked: put the secret back or delete the line)";
    out.append(line).append("  # ").append(where).append("\n");
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
      return std::unexpected(config_detail::invalid_setting(config, "socket_group", gid.error()));
    }
  }
  return {};
}

}  // namespace pez::daemon
