// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <map>

#include "common/settings.hpp"
#include "env.hpp"

namespace settings = pez::settings;
using namespace std::chrono_literals;
using pez::test::env_of;

namespace {

struct Target {
  std::int64_t count = 100;
  std::string name;
};

std::vector<settings::Spec> table(Target& t) {
  return {
      settings::Spec{"max_count", "100", "N", "doc",
                     [&t](std::string_view text) -> std::expected<void, std::string> {
                       auto v = settings::parse_integer(text, 1, 1000);
                       if (!v) return std::unexpected(v.error());
                       t.count = *v;
                       return {};
                     }},
      settings::Spec{"db_name", "", "NAME", "doc",
                     [&t](std::string_view text) -> std::expected<void, std::string> {
                       t.name = std::string(text);
                       return {};
                     }},
  };
}

}  // namespace

TEST_CASE("settings: flag and env names come from the key") {
  settings::Spec spec{"max_count", "", "", "", nullptr};
  CHECK(spec.flag() == "--max-count");
  CHECK(spec.env() == "PEZ_MAX_COUNT");
}

TEST_CASE("settings: flag beats env beats file beats default") {
  Target t;
  auto specs = table(t);
  auto file = settings::parse_config_text("max_count = 7\ndb_name = \"from file\"  \n# comment\n", "f.conf").value();

  auto origins = settings::resolve(specs, {}, env_of({}), file, "f.conf").value();
  CHECK(t.count == 7);
  CHECK(t.name == "from file");
  CHECK(origins.at("max_count").where == "f.conf:1");

  origins = settings::resolve(specs, {}, env_of({{"PEZ_MAX_COUNT", "8"}}), file, "f.conf").value();
  CHECK(t.count == 8);
  CHECK(origins.at("max_count").source == settings::Source::env);

  origins = settings::resolve(specs, {{"max_count", "9"}}, env_of({{"PEZ_MAX_COUNT", "8"}}), file, "f.conf").value();
  CHECK(t.count == 9);
  CHECK(origins.at("max_count").where == "--max-count");

  Target fresh;
  auto fresh_specs = table(fresh);
  origins = settings::resolve(fresh_specs, {}, env_of({}), {}, "").value();
  CHECK(fresh.count == 100);
  CHECK(origins.at("max_count").source == settings::Source::default_value);
}

TEST_CASE("settings: a bad value names the setting and where it came from") {
  Target t;
  auto specs = table(t);
  auto result = settings::resolve(specs, {}, env_of({{"PEZ_MAX_COUNT", "lots"}}), {}, "");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().find("max_count") != std::string::npos);
  CHECK(result.error().find("PEZ_MAX_COUNT") != std::string::npos);
  CHECK(result.error().find("1 to 1000") != std::string::npos);

  auto file = settings::parse_config_text("colour = blue\n", "x.conf").value();
  result = settings::resolve(specs, {}, env_of({}), file, "x.conf");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().find("x.conf:1") != std::string::npos);
  CHECK(result.error().find("colour") != std::string::npos);
}

TEST_CASE("settings: config file syntax errors point at the line") {
  auto result = settings::parse_config_text("max_count = 5\nthis is not a setting\n", "p.conf");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().find("p.conf:2") != std::string::npos);
}

TEST_CASE("settings: durations") {
  CHECK(settings::parse_duration("5s", 1ms, 1h).value() == 5000ms);
  CHECK(settings::parse_duration("250ms", 1ms, 1h).value() == 250ms);
  CHECK(settings::parse_duration("2m", 1ms, 1h).value() == 120000ms);
  CHECK(settings::parse_duration("1.5", 1ms, 1h).value() == 1500ms);
  CHECK(settings::parse_duration("3", 1ms, 1h).value() == 3000ms);
  for (auto bad : {"", "s", "5x", "-1s", "1..2s", "2h", "abc"}) {
    CAPTURE(bad);
    CHECK_FALSE(settings::parse_duration(bad, 1ms, 1h).has_value());
  }
  CHECK(settings::format_duration(5000ms) == "5s");
  CHECK(settings::format_duration(250ms) == "250ms");
  CHECK(settings::format_duration(120000ms) == "2m");
}

TEST_CASE("settings: quoted values and trailing comments, as pezd.conf(5) promises") {
  auto entries = settings::parse_config_text(
                     "http = \"127.0.0.1:8014\" # where\n"
                     "db_name = pez # the database\n"
                     "db_username = \"a # b\"\n"
                     "db_host = \"\"   # none\n"
                     "socket = \"say \\\"hi\\\" \\\\ there\"\n"
                     "db_port = a#b\n"
                     "log_level = # nothing\n",
                     "q.conf")
                     .value();
  REQUIRE(entries.size() == 7);
  CHECK(entries[0].value == "127.0.0.1:8014");
  CHECK(entries[1].value == "pez");
  CHECK(entries[2].value == "a # b");
  CHECK(entries[3].value == "");
  CHECK(entries[4].value == "say \"hi\" \\ there");
  CHECK(entries[5].value == "a#b");
  CHECK(entries[6].value == "");

  for (auto bad : {"http = \"127.0.0.1:8014\n", "http = \"127.0.0.1\" 8014\n"}) {
    CAPTURE(bad);
    auto result = settings::parse_config_text(bad, "b.conf");
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().find("b.conf:1") != std::string::npos);
  }
}

TEST_CASE("settings: a value written by config_text_value reads back unchanged") {
  for (std::string value : {"", "plain", "a # b", " padded ", "\"quoted\"", "back\\slash", "x#y", "#", "\\\""}) {
    CAPTURE(value);
    auto const line = "key = " + settings::config_text_value(value) + "   # a comment\n";
    auto entries = settings::parse_config_text(line, "r.conf");
    REQUIRE(entries.has_value());
    REQUIRE(entries->size() == 1);
    CHECK(entries->front().value == value);
  }
}
