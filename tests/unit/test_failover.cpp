// SPDX-License-Identifier: Apache-2.0
// What pezd learns of the primary (daemon/db/failover.hpp), the setting that makes it refuse, and
// the TCP settings that make it notice a dead server (daemon/db/tcp_settings.hpp).
#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/db/failover.hpp"
#include "daemon/db/tcp_settings.hpp"
#include "env.hpp"

using pez::daemon::FailoverSafety;
using pez::test::load_pezd;

namespace {

std::map<std::string, std::string> as_map(pez::daemon::ConnParams const& params) {
  // The last of a key wins, as in libpq; the URL (dbname) is kept whole.
  std::map<std::string, std::string> out;
  for (auto const& [k, v] : params) out[k] = v;
  return out;
}

FailoverSafety primary(std::string names, std::int64_t standbys, std::int64_t sync, std::int64_t hidden = 0) {
  FailoverSafety s;
  s.server = "10.0.0.1:5432";
  s.role = "pezd";
  s.synchronous_commit = "on";
  s.standby_names = std::move(names);
  s.standbys = standbys;
  s.sync_standbys = sync;
  s.hidden = hidden;
  return s;
}

}  // namespace

TEST_CASE("failover: safe only when a commit waits for a synchronous standby") {
  auto sync = primary("\"node2\"", 2, 1);
  CHECK(sync.kind() == FailoverSafety::Kind::synchronous);
  CHECK(sync.safe());
  CHECK_FALSE(sync.refusal());
  CHECK(sync.text().starts_with("safe: "));
  CHECK_FALSE(sync.stalled());
  CHECK(sync.text().find("none streams") == std::string::npos);
  // A synchronous standby configured but not connected: commits wait, nothing is lost, and the
  // text says that every commit waits.
  auto none = primary("*", 0, 0);
  CHECK(none.safe());
  CHECK(none.stalled());
  CHECK(none.text().starts_with("safe: "));
  CHECK(none.text().find("but none streams now: every commit that takes numbers waits until one does") !=
        std::string::npos);
  // Standbys stream, none of them named: the same.
  CHECK(primary("\"gone\"", 2, 0).stalled());
  // Their state hidden from the role: not known.
  CHECK_FALSE(primary("\"node2\"", 2, 0, 2).stalled());
  // num_sync: commits wait for that many.
  CHECK(primary("a, b", 2, 1).required_sync() == 1);
  CHECK(primary("first", 1, 0).required_sync() == 1);  // a standby named first
  CHECK(primary("FIRST 2 (a, b, c)", 3, 2).required_sync() == 2);
  CHECK(primary(" any 3(a,b,c) ", 3, 3).required_sync() == 3);
  CHECK(primary("2 (\"x y\", z)", 2, 2).required_sync() == 2);
  CHECK(primary("ANY\t2 (a, b)", 2, 2).required_sync() == 2);
  CHECK(primary("2", 1, 1).required_sync() == 1);  // a standby named 2
  CHECK_FALSE(primary("FIRST 2 (a, b, c)", 3, 2).stalled());
  auto short_one = primary("ANY 2 (a, b, c)", 1, 1);
  CHECK(short_one.stalled());
  CHECK(short_one.text().find("but they wait for 2 and 1 streams now") != std::string::npos);

  auto async = primary("", 2, 0);
  CHECK(async.kind() == FailoverSafety::Kind::asynchronous);
  CHECK_FALSE(async.safe());
  CHECK(async.text().starts_with("NOT SAFE: asynchronous standbys only (2 standbys"));
  REQUIRE(async.refusal());
  CHECK(async.refusal()->find("require_synchronous_standby is on") != std::string::npos);
  CHECK(primary("  ", 1, 0).kind() == FailoverSafety::Kind::asynchronous);  // blank is empty

  auto alone = primary("", 0, 0);
  CHECK(alone.kind() == FailoverSafety::Kind::alone);
  CHECK_FALSE(alone.safe());
  CHECK(alone.refusal());

  // A role without pg_monitor sees the standbys but not their state: it is told the grant.
  auto hidden = primary("", 1, 0, 1);
  CHECK(hidden.text().find("GRANT pg_monitor TO pezd") != std::string::npos);

  // synchronous_commit off or local would not wait, but the taking transactions raise it to on.
  CHECK(pez::daemon::taking_synchronous_commit("off") == "on");
  CHECK(pez::daemon::taking_synchronous_commit("local") == "on");
  CHECK(pez::daemon::taking_synchronous_commit("remote_write") == "on");
  CHECK(pez::daemon::taking_synchronous_commit("remote_apply") == "remote_apply");
  auto local = primary("node2", 1, 1);
  local.synchronous_commit = "local";
  CHECK_FALSE(local.safe());
}

TEST_CASE("config: require_synchronous_standby is off by default, on from a flag or PEZ_REQUIRE_SYNCHRONOUS_STANDBY") {
  auto defaults = load_pezd({});
  REQUIRE(defaults.has_value());
  CHECK_FALSE(defaults->config.require_synchronous_standby);
  auto flag = load_pezd({"--require-synchronous-standby", "on"});
  REQUIRE(flag.has_value());
  CHECK(flag->config.require_synchronous_standby);
  auto env = load_pezd({}, {{"PEZ_REQUIRE_SYNCHRONOUS_STANDBY", "yes"}});
  REQUIRE(env.has_value());
  CHECK(env->config.require_synchronous_standby);
  auto bad = load_pezd({}, {{"PEZ_REQUIRE_SYNCHRONOUS_STANDBY", "maybe"}});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("require_synchronous_standby") != std::string::npos);
  auto printed = pez::daemon::print_config(flag->config);
  CHECK(printed.find("require_synchronous_standby = on") != std::string::npos);
}

TEST_CASE("tcp: keepalives and tcp_user_timeout notice a dead server within about request_timeout") {
  auto inv = load_pezd({"--database-url", "host=db1,db2 dbname=pez target_session_attrs=read-write"});
  REQUIRE(inv.has_value());
  auto params = as_map(inv->config.conn_params());
  CHECK(params["keepalives"] == "1");
  CHECK(params["keepalives_idle"] == "2");
  CHECK(params["keepalives_interval"] == "1");
  CHECK(params["keepalives_count"] == "3");
  CHECK(params["tcp_user_timeout"] == "5000");
  // idle + interval * count is request_timeout, and so is tcp_user_timeout.
  auto slow = pez::daemon::tcp_settings("", "database_url", std::chrono::seconds(60));
  std::map<std::string, std::string> values;
  for (auto const& s : slow) values[s.key] = s.value;
  CHECK(std::stoi(values["keepalives_idle"]) + std::stoi(values["keepalives_interval"]) * 3 == 60);
  CHECK(values["tcp_user_timeout"] == "60000");
  for (auto const& s : slow) CHECK(s.origin == "pezd, for request_timeout 1m");
}

TEST_CASE("tcp: what the connection string sets wins, and --print-config says where each came from") {
  for (std::string url : {"host=db1 dbname=pez keepalives_idle=30 tcp_user_timeout=20000",
                          "postgresql://db1/pez?keepalives_idle=30&tcp_user_timeout=20000"}) {
    CAPTURE(url);
    auto settings = pez::daemon::tcp_settings(url, "database_url", std::chrono::seconds(5));
    std::map<std::string, pez::daemon::TcpSetting> by_key;
    for (auto const& s : settings) by_key[s.key] = s;
    CHECK(by_key["keepalives_idle"].value == "30");
    CHECK(by_key["keepalives_idle"].origin == "database_url");
    CHECK(by_key["tcp_user_timeout"].value == "20000");
    CHECK(by_key["keepalives_count"].value == "3");
    CHECK(by_key["keepalives_count"].origin.starts_with("pezd"));
    // libpq reads the array in order: the URL (in dbname) comes after pezd's values and wins.
    auto inv = load_pezd({"--database-url", url});
    REQUIRE(inv.has_value());
    auto const params = inv->config.conn_params();
    std::size_t url_at = 0;
    std::size_t idle_at = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i].first == "dbname") url_at = i;
      if (params[i].first == "keepalives_idle") idle_at = i;
    }
    CHECK(idle_at < url_at);
    auto printed = pez::daemon::print_config(inv->config);
    CHECK(std::regex_search(printed, std::regex(R"(\n#   keepalives_idle = 30 +# database_url\n)")));
    CHECK(std::regex_search(printed, std::regex(R"(\n#   keepalives_count = 3 +# pezd, for request_timeout 5s\n)")));
    CHECK(std::regex_search(printed, std::regex(R"(\n#   tcp_user_timeout = 20000 +# database_url\n)")));
  }
}
