// SPDX-License-Identifier: Apache-2.0
// pez status: pezd's state from the socket's STATUS, shown as a table for people or passed
// through with --json for scripts; the exit status says whether pezd can hand out numbers.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/answers.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/json_line.hpp"
#include "common/protocol.hpp"

namespace pez::cli {
namespace {

using nlohmann::json;

// "2d 3h", "4h 5m", "6m 7s", "8s".
std::string duration_text(json const& seconds) {
  if (!seconds.is_number_integer()) return text_of(seconds);
  auto const total = seconds.get<std::int64_t>();
  std::int64_t const parts[] = {total / 86400, total / 3600 % 24, total / 60 % 60, total % 60};
  char const* const units[] = {"d", "h", "m", "s"};
  std::size_t first = 0;
  while (first < 3 && parts[first] == 0) ++first;
  std::string out = std::to_string(parts[first]) + units[first];
  if (first < 3) out += " " + std::to_string(parts[first + 1]) + units[first + 1];
  return out;
}

// "1 connection", "2 connections".
std::string count_of(json const& n, std::string const& what) {
  auto const text = text_of(n);
  return text + " " + what + (text == "1" ? "" : "s");
}

// pez status: the verdict first, then one line per part of the daemon: where pez found it, and
// what it is doing.
std::string status_table(json const& s, std::string const& socket, std::string const& socket_from) {
  auto const& db = s["database"];
  bool const ready = s.value("ready", false);
  bool const db_up = db.value("up", false);
  std::string verdict = "pezd " + text_of(s["version"]) + ": " + (ready ? "ready" : "NOT READY");
  if (!ready) {
    auto const& why = s.contains("not_ready") ? s["not_ready"] : json();
    if (why.is_object() && why.value("code", "") == "misconfigured")
      verdict += " (database settings wrong)";
    else if (!db_up)
      verdict += " (database unavailable)";
    else if (db["refused"].is_string())
      verdict += " (refused: no synchronous standby)";
    else
      verdict += " (shutting down)";
  }
  std::vector<std::vector<std::string>> rows{
      {"socket:", socket + (socket_from == "default" ? " (the default)" : " (from " + socket_from + ")")},
      {"pid:", text_of(s["pid"])},
      {"mode:", text_of(s["mode"]) + ", " + count_of(s["threads"], "thread")},
      {"uptime:", duration_text(s["uptime_seconds"])},
      {"http:", s["http"].is_string() ? s["http"].get<std::string>() : "off"},
      {"database:", db_up ? "up, " + count_of(db["connections"], "connection") + " to " + text_of(db["server"])
                          : "DOWN: " + text_of(db["error"])},
      {"failover:", (db["failover"].is_string() ? db["failover"].get<std::string>() : std::string("not known yet")) +
                        (db["refused"].is_string() ? " (numbers refused: require_synchronous_standby)" : "")},
      {"conninfo:", text_of(db["conninfo"])},
      {"sequences:", text_of(s["sequences"])},
      {"requests:", text_of(s["requests"]) + " answered, " + text_of(s["pending"]) + " waiting"},
      {"numbers:", text_of(s["numbers"]) + " handed out"},
      {"clients:", count_of(s["connections"], "connection") + " open"}};
  if (db["notices"].is_string()) {
    // Only when they do not arrive (block mode refuses then): after the database line.
    auto const database = std::find_if(rows.begin(), rows.end(), [](auto const& row) { return row[0] == "database:"; });
    rows.insert(database + 1, {"notices:", "NOT HEARD: " + db["notices"].get<std::string>()});
  }
  return verdict + "\n" + table(rows);
}

// pez status exits as pez forward would now: 0 when pezd can hand out numbers.
Outcome status_verdict(json const& s) {
  if (s.value("ready", false)) return {};
  auto const& why = s.contains("not_ready") ? s["not_ready"] : json();
  std::string message = "pezd cannot hand out numbers now";
  Errc code = Errc::unavailable;
  if (why.is_object()) {
    if (auto known = errc_from_token(why.value("code", ""))) code = *known;
    message += ": " + why.value("message", std::string("no reason given"));
  }
  return std::unexpected(Failure{errc_exit_code(code), message});
}

}  // namespace

void add_status_command(CLI::App& app, Globals& globals, Action& action) {
  auto as_json = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status", "pezd's state: version, uptime, database, counters");
  status->add_flag("--json", *as_json, "Print pezd's JSON answer on standard output");
  status->callback([&globals, &action, as_json] {
    action = [&globals, as_json]() -> Outcome {
      auto answer = ask(globals, proto::status_line());
      if (!answer) return std::unexpected(answer.error());
      auto shown =
          write_out(*as_json ? json_line(*answer) + "\n" : status_table(*answer, globals.socket, globals.socket_from));
      if (!shown) return shown;
      return status_verdict(*answer);
    };
  });
}

}  // namespace pez::cli
