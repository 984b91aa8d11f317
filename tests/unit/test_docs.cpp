// SPDX-License-Identifier: Apache-2.0
// The settings table is the one truth: pezd.conf(5) and the sample config packaging/pezd.conf
// must document every setting it declares, with its default, and nothing it does not.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "daemon/config/config.hpp"

namespace {

std::string read_source(std::string const& relative) {
  std::ifstream in(std::string(PEZ_SOURCE_DIR) + "/" + relative);
  REQUIRE_MESSAGE(in.good(), "cannot read " << relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> declared_keys() {
  pez::daemon::Config config;
  std::set<std::string> keys;
  for (auto const& spec : pez::daemon::specs(config)) keys.insert(spec.key);
  return keys;
}

}  // namespace

TEST_CASE("docs: pezd.conf(5) describes every setting, with its default, and no other") {
  auto const page = read_source("man/pezd.conf.5");
  // ".It Cm max_count Pq default: 100"
  std::regex const item(R"(^\.It Cm ([a-z_]+) Pq default: (.*)$)", std::regex::multiline);
  std::map<std::string, std::string> documented;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), item); it != std::sregex_iterator(); ++it) {
    documented[(*it)[1]] = (*it)[2];
  }
  pez::daemon::Config config;
  for (auto const& spec : pez::daemon::specs(config)) {
    CAPTURE(spec.key);
    REQUIRE_MESSAGE(documented.contains(spec.key),
                    "man/pezd.conf.5 has no \".It Cm " << spec.key << " Pq default: ...\"");
    // Settings without a default say in words what happens (none, libpq's, the daemon's group).
    if (!spec.default_text.empty()) CHECK(documented[spec.key] == spec.default_text);
  }
  for (auto const& [key, text] : documented) {
    CAPTURE(key);
    CHECK_MESSAGE(declared_keys().contains(key), "man/pezd.conf.5 documents a setting pezd does not have");
  }
}

TEST_CASE("docs: packaging/pezd.conf shows every setting at its default, and no other") {
  auto const sample = read_source("packaging/pezd.conf");
  // "#max_count = 100" (commented out: the default applies); "#socket_group =" for none.
  std::regex const line(R"(^#([a-z_]+) =(?: (.*))?$)", std::regex::multiline);
  std::map<std::string, std::string> shown;
  for (auto it = std::sregex_iterator(sample.begin(), sample.end(), line); it != std::sregex_iterator(); ++it) {
    auto const key = (*it)[1].str();
    CAPTURE(key);
    CHECK_MESSAGE(!shown.contains(key), "packaging/pezd.conf shows a setting twice");
    shown[key] = (*it)[2].matched ? (*it)[2].str() : std::string();
  }
  pez::daemon::Config config;
  for (auto const& spec : pez::daemon::specs(config)) {
    CAPTURE(spec.key);
    REQUIRE_MESSAGE(shown.contains(spec.key), "packaging/pezd.conf has no \"#" << spec.key << " = ...\" line");
    CHECK(shown[spec.key] == spec.default_text);
  }
  for (auto const& [key, value] : shown) {
    CAPTURE(key);
    CHECK_MESSAGE(declared_keys().contains(key), "packaging/pezd.conf shows a setting pezd does not have");
  }
}

TEST_CASE("docs: the sample config is a valid config file") {
  // Every setting line in it is a comment, so it parses to nothing and pezd starts on defaults.
  auto entries = pez::settings::parse_config_text(read_source("packaging/pezd.conf"), "packaging/pezd.conf");
  REQUIRE(entries.has_value());
  CHECK(entries->empty());
}
