// SPDX-License-Identifier: Apache-2.0
// Settings read in unit tests: an environment given as a map, and pezd's configuration loaded
// from a command line and such an environment.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/settings.hpp"
#include "daemon/config/config.hpp"

namespace pez::test {

// The environment vars, and nothing else.
inline settings::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string const& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

// pezd's configuration from "pezd args..." and env; no file is read unless env's PEZ_CONFIG names one.
inline auto load_pezd(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  env.emplace("PEZ_CONFIG", "");
  args.insert(args.begin(), "pezd");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& a : args) argv.push_back(a.data());
  return daemon::load_config(static_cast<int>(argv.size()), argv.data(), env_of(std::move(env)));
}

}  // namespace pez::test
