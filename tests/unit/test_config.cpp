#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <vector>

#include "daemon/config.hpp"

using pez::daemon::load_config;

namespace {

pez::settings::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](std::string const& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

auto load(std::vector<std::string> args, std::map<std::string, std::string> env = {{"PEZ_CONFIG", ""}}) {
  args.insert(args.begin(), "pezd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return load_config(static_cast<int>(argv.size()), argv.data(), env_of(env));
}

}  // namespace

TEST_CASE("config: defaults") {
  auto inv = load({});
  REQUIRE(inv.has_value());
  CHECK(inv->config.socket_path == "/run/pez/pezd.sock");
  CHECK_FALSE(inv->config.http.has_value());
  CHECK(inv->config.max_count == 100);
  CHECK(inv->config.request_timeout == std::chrono::seconds(5));
}

TEST_CASE("config: the original service's environment names work") {
  auto inv = load({}, {{"PEZ_CONFIG", ""},
                       {"PEZ_DB_HOST", "db.example"},
                       {"PEZ_DB_PORT", "5433"},
                       {"PEZ_DB_NAME", "pez"},
                       {"PEZ_DB_USERNAME", "pezuser"},
                       {"PEZ_DB_PASSWORD", "secret"},
                       {"PEZ_MAX_COUNT", "250"},
                       {"PEZ_HTTP", "127.0.0.1:8000"}});
  REQUIRE(inv.has_value());
  auto const& c = inv->config;
  CHECK(c.max_count == 250);
  REQUIRE(c.http.has_value());
  CHECK(c.http->port == 8000);
  auto params = c.conn_params();
  std::map<std::string, std::string> map(params.begin(), params.end());
  CHECK(map["host"] == "db.example");
  CHECK(map["port"] == "5433");
  CHECK(map["dbname"] == "pez");
  CHECK(map["user"] == "pezuser");
  CHECK(map["password"] == "secret");
}

TEST_CASE("config: bad values stop pezd with a message naming the setting") {
  struct Case {
    std::map<std::string, std::string> env;
    char const* names;
  };
  for (auto const& c : std::vector<Case>{{{{"PEZ_MAX_COUNT", "0"}}, "max_count"},
                                         {{{"PEZ_MAX_COUNT", "many"}}, "max_count"},
                                         {{{"PEZ_HTTP", "8000"}}, "http"},
                                         {{{"PEZ_HTTP", "127.0.0.1:99999"}}, "http"},
                                         {{{"PEZ_MODE", "fast"}}, "mode"},
                                         {{{"PEZ_LOG_LEVEL", "loud"}}, "log_level"},
                                         {{{"PEZ_REQUEST_TIMEOUT", "soon"}}, "request_timeout"},
                                         {{{"PEZ_DB_PASSWORD_FILE", "/nonexistent/pw"}}, "db_password_file"}}) {
    auto env = c.env;
    env["PEZ_CONFIG"] = "";
    auto inv = load({}, env);
    CAPTURE(c.names);
    REQUIRE_FALSE(inv.has_value());
    CHECK(inv.error().find(c.names) != std::string::npos);
  }
  auto inv = load({"--max-count", "0"});
  REQUIRE_FALSE(inv.has_value());
  CHECK(inv.error().find("--max-count") != std::string::npos);
}

TEST_CASE("config: flags beat the environment, which beats the file") {
  char path[] = "/tmp/pez-config-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream(path) << "# test\nmax_count = 10\nhttp = 127.0.0.1:9000\n";
  }
  auto inv = load({}, {{"PEZ_CONFIG", path}});
  REQUIRE(inv.has_value());
  CHECK(inv->config.max_count == 10);
  inv = load({}, {{"PEZ_CONFIG", path}, {"PEZ_MAX_COUNT", "20"}});
  REQUIRE(inv.has_value());
  CHECK(inv->config.max_count == 20);
  inv = load({"--max-count", "30"}, {{"PEZ_CONFIG", path}, {"PEZ_MAX_COUNT", "20"}});
  REQUIRE(inv.has_value());
  CHECK(inv->config.max_count == 30);
  CHECK(inv->config.origins.at("http").where == std::string(path) + ":3");
  std::remove(path);

  auto missing = load({"--config", "/nonexistent/pezd.conf"});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().find("/nonexistent/pezd.conf") != std::string::npos);
}

TEST_CASE("config: the password has no flag") {
  auto inv = load({"--db-password", "x"});
  CHECK_FALSE(inv.has_value());
}
