// SPDX-License-Identifier: Apache-2.0
// pez admin list | inspect | reset | create | drop, and pez status: JSON from pezd, shown as
// tables for people or passed through with --json for scripts.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "common/admin.hpp"
#include "common/count.hpp"
#include "common/forecast.hpp"
#include "common/json_line.hpp"
#include "common/names.hpp"
#include "common/protocol.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"

namespace pez::cli {
namespace {

using nlohmann::json;

struct AdminOptions {
  std::string name;
  std::string to;
  std::string start;
  std::string min;
  std::string max;
  std::string increment;
  std::string mode;
  std::string description;
  std::string format;
  std::string period;
  std::string time_zone;
  std::string check;
  bool descending = false;
  bool no_cycle = false;
  bool json = false;
};

Outcome write_out(std::string const& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    return std::unexpected(Failure{k_exit_failure, "cannot write to standard output"});
  }
  return {};
}

std::expected<json, Failure> ask(Globals const& globals, std::string const& line) {
  auto timeout = settings::parse_duration(globals.timeout, std::chrono::milliseconds(1), std::chrono::hours(1));
  if (!timeout) return std::unexpected(Failure{k_exit_usage, "--timeout: " + timeout.error()});
  Client client(globals.socket, *timeout);
  auto answers = client.exchange({line});
  if (!answers) return std::unexpected(answers.error());
  json value = json::parse(answers->front(), nullptr, false);
  if (value.is_discarded()) return std::unexpected(Failure{k_exit_failure, "pezd sent an answer this pez cannot read"});
  return value;
}

std::string text_of(json const& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", v.get<double>() * 100);
    return buf;
  }
  return json_line(v);
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

// Columns sized to their widest cell, two spaces apart.
std::string table(std::vector<std::vector<std::string>> const& rows) {
  std::vector<std::size_t> widths;
  for (auto const& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (auto const& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) line += i + 1 == row.size() ? row[i] : pad(row[i], widths[i] + 2);
    out += line + "\n";
  }
  return out;
}

// Numbers a second in the unit that reads best ("12/s", "30/min"), or "-" while not measured.
std::string rate_of(json const& v) { return v.is_number() ? rate_text(v.get<double>()) : "-"; }

// When the sequence runs out or wraps at the last hour's rate ("3d 4h"; "now" once run out), or
// "-" while the rate is not known or is 0.
std::string eta_of(json const& seq) {
  if (seq.value("exhausted", false)) return "now";
  auto const& eta = seq.contains("eta_seconds") ? seq["eta_seconds"] : json();
  return eta.is_number() ? eta_text(eta.get<double>()) : "-";
}

std::string describe(json const& seq) {
  static constexpr char const* k_fields[][2] = {{"name", "name"},
                                                {"description", "description"},
                                                {"direction", "direction"},
                                                {"increment", "increment"},
                                                {"start", "start"},
                                                {"min", "min"},
                                                {"max", "max"},
                                                {"cycle", "cycle"},
                                                {"mode", "mode"},
                                                {"mode_from", "mode set by"},
                                                {"last_value", "last value"},
                                                {"next", "next value"},
                                                {"left", "left before wrap"},
                                                {"used", "range used"},
                                                {"exhausted", "run out"},
                                                {"rate_1m", "rate, last minute"},
                                                {"rate_1h", "rate, last hour"},
                                                {"eta_seconds", "wraps in"},
                                                {"generation", "generation"},
                                                {"created_at", "created"},
                                                {"reset_at", "last reset"},
                                                {"reserved_here", "reserved by this pezd"},
                                                {"pezd_connections", "database connections of all pezd"},
                                                {"format", "format"},
                                                {"example", "example"},
                                                {"period", "period"},
                                                {"time_zone", "time zone"},
                                                {"check", "check"},
                                                {"current_period", "current period"},
                                                {"next_printed", "next printed"},
                                                {"format_error", "format unusable"}};
  bool const cycles = seq.value("cycle", true);
  std::vector<std::vector<std::string>> rows;
  for (auto const& [key, label] : k_fields) {
    if (!seq.contains(key)) continue;
    std::string_view const k = key;
    if (k == "format" && seq[key].is_null()) continue;
    auto value = k.starts_with("rate_") ? rate_of(seq[key]) : k == "eta_seconds" ? eta_of(seq) : text_of(seq[key]);
    if (k == "left" && !cycles)
      rows.push_back({"left before run out:", value});
    else if (k == "eta_seconds" && !cycles)
      rows.push_back({"runs out in:", value});
    else
      rows.push_back({std::string(label) + ":", value});
  }
  return table(rows);
}

Outcome show(json const& value, bool as_json, std::string (*human)(json const&)) {
  return write_out(as_json ? json_line(value) + "\n" : human(value));
}

// What create, reset and drop did, in one line on standard error; --json puts pezd's answer on
// standard output as well.
Outcome confirm(json const& answer, bool as_json, std::string const& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  if (as_json) return write_out(json_line(answer) + "\n");
  return {};
}

// "1002", or what stands in for the next number of a sequence that has run out.
std::string next_text(json const& seq) {
  if (seq.value("exhausted", false) || seq["next"].is_null()) return "the end of its range (run out)";
  return text_of(seq["next"]);
}

std::string list_table(json const& list) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "DIRECTION", "NEXT", "LEFT", "USED", "RATE", "ETA", "CYCLE", "MODE", "DESCRIPTION"}};
  for (auto const& seq : list) {
    auto const description = seq.value("description", std::string());
    rows.push_back({text_of(seq["name"]), text_of(seq["direction"]), text_of(seq["next"]), text_of(seq["left"]),
                    text_of(seq["used"]), rate_of(seq.contains("rate_1h") ? seq["rate_1h"] : json()), eta_of(seq),
                    text_of(seq["cycle"]), text_of(seq["mode"]), description.empty() ? "-" : description});
  }
  return table(rows);
}

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

std::expected<std::int64_t, Failure> number_flag(std::string const& flag, std::string const& text) {
  auto const v = parse_int64(text);
  if (!v || *v < 1) {
    return std::unexpected(Failure{
        k_exit_usage, flag + " takes a whole number from 1 to 9223372036854775807, got " + quote_untrusted(text)});
  }
  return *v;
}

Outcome check_name(std::string const& name) {
  if (auto ok = check_sequence_name(name); !ok) return std::unexpected(Failure{k_exit_usage, ok.error()});
  return {};
}

Outcome run_create(Globals const& globals, AdminOptions const& o) {
  if (auto ok = check_name(o.name); !ok) return ok;
  json spec;
  spec["name"] = o.name;
  for (auto [flag, key, text] :
       {std::tuple{"--start", "start", &o.start}, std::tuple{"--min", "min", &o.min},
        std::tuple{"--max", "max", &o.max}, std::tuple{"--increment", "increment", &o.increment}}) {
    if (text->empty()) continue;
    auto checked = number_flag(flag, *text);
    if (!checked) return std::unexpected(checked.error());
    spec[key] = *checked;
  }
  if (o.descending) spec["descending"] = true;
  if (o.no_cycle) spec["cycle"] = false;
  if (!o.mode.empty()) {
    if (o.mode != "strict" && o.mode != "block") {
      return std::unexpected(Failure{k_exit_usage, "--mode takes strict or block, got " + quote_untrusted(o.mode)});
    }
    spec["mode"] = o.mode;
  }
  if (!o.description.empty()) spec["description"] = o.description;
  for (auto [key, text] : {std::pair{"format", &o.format}, std::pair{"period", &o.period},
                           std::pair{"timezone", &o.time_zone}, std::pair{"check", &o.check}}) {
    if (!text->empty()) spec[key] = *text;
  }
  // Checked here as pezd checks it, so that a mistake is a usage error before anything is sent.
  if (auto checked = parse_create_spec(json_line(spec)); !checked) {
    return std::unexpected(Failure{k_exit_usage, checked.error()});
  }
  auto answer = ask(globals, proto::create_line(json_line(spec)));
  if (!answer) return std::unexpected(answer.error());
  // A formatted sequence's next number as it will be printed.
  auto const next = answer->contains("next_printed") ? text_of((*answer)["next_printed"]) : next_text(*answer);
  return confirm(*answer, o.json, "created " + o.name + ", next " + next);
}

}  // namespace

void add_admin_commands(CLI::App& app, Globals& globals, Action& action) {
  auto* admin = app.add_subcommand("admin", "Inspect and manage sequences (needs admin rights on pezd's socket)");
  admin->require_subcommand(1);
  auto o = std::make_shared<AdminOptions>();
  auto json_flag = [o](CLI::App* sub) {
    sub->add_flag("--json", o->json, "Print pezd's JSON answer on standard output");
  };
  auto name_arg = [o](CLI::App* sub) {
    sub->add_option("NAME", o->name, "The sequence's name: a-z 0-9 _ -, starting with a letter")->required();
  };

  auto* list = admin->add_subcommand("list", "Every sequence with its state");
  json_flag(list);
  list->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      auto answer = ask(globals, proto::list_line());
      if (!answer) return std::unexpected(answer.error());
      return show(*answer, o->json, list_table);
    };
  });

  auto* inspect = admin->add_subcommand("inspect", "One sequence: direction, bounds, cycle, mode, state");
  name_arg(inspect);
  json_flag(inspect);
  inspect->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      if (auto ok = check_name(o->name); !ok) return ok;
      auto answer = ask(globals, proto::inspect_line(o->name));
      if (!answer) return std::unexpected(answer.error());
      return show(*answer, o->json, describe);
    };
  });

  auto* reset = admin->add_subcommand("reset", "Restart a sequence: the next number is its start, or --to V");
  name_arg(reset);
  reset->add_option("--to", o->to, "The next number to hand out")->type_name("V");
  json_flag(reset);
  reset->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      if (auto ok = check_name(o->name); !ok) return ok;
      std::optional<std::int64_t> to;
      if (!o->to.empty()) {
        auto checked = number_flag("--to", o->to);
        if (!checked) return std::unexpected(checked.error());
        to = *checked;
      }
      // Where it was, to say what the reset skipped or hands out again.
      auto before = ask(globals, proto::inspect_line(o->name));
      if (!before) return std::unexpected(before.error());
      auto answer = ask(globals, proto::reset_line(o->name, to));
      if (!answer) return std::unexpected(answer.error());
      // Next is where the reset put it (--to, or the start): the sequence as read back may
      // already be past it, by a block that pezd reserved from it at once.
      auto const next = to ? std::to_string(*to) : text_of((*answer)["start"]);
      return confirm(*answer, o->json, "reset " + o->name + ": was at " + next_text(*before) + ", next " + next);
    };
  });

  auto* create = admin->add_subcommand("create", "Create a named sequence (default: 1, 2, 3, ... cycling)");
  name_arg(create);
  create->add_option("--start", o->start, "First number (default: min, or max with --descending)")->type_name("V");
  create->add_option("--min", o->min, "Smallest number (default 1)")->type_name("V");
  create->add_option("--max", o->max, "Largest number (default 9223372036854775807)")->type_name("V");
  create->add_option("--increment", o->increment, "Step between numbers (default 1)")->type_name("N");
  create->add_flag("--descending", o->descending, "Count down from max");
  create->add_flag("--no-cycle", o->no_cycle, "Run out at the end of the range instead of starting over");
  create->add_option("--mode", o->mode, "Allocation mode of this sequence: strict or block (default: pezd's)")
      ->type_name("MODE");
  create->add_option("--description", o->description, "One line saying what the numbers are for")->type_name("TEXT");
  create
      ->add_option("--format", o->format,
                   "Print each number through a template, as in INV-{YYYY}-{n:06}: {n}, {n:0W}, {YYYY} {YY} {MM} "
                   "{DD}, {check} (pez(1))")
      ->type_name("TEMPLATE");
  create->add_option("--period", o->period, "Start again each period: yearly, monthly or daily (needs --format)")
      ->type_name("PERIOD");
  create->add_option("--timezone", o->time_zone, "The period's time zone, an IANA name (default UTC)")->type_name("TZ");
  create->add_option("--check", o->check, "Check characters for {check}: luhn, damm or mod97")->type_name("ALGORITHM");
  json_flag(create);
  create->callback([&globals, &action, o] { action = [&globals, o] { return run_create(globals, *o); }; });

  auto* drop = admin->add_subcommand("drop", "Drop a named sequence (forward and reverse cannot be dropped)");
  name_arg(drop);
  json_flag(drop);
  drop->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      if (auto ok = check_name(o->name); !ok) return ok;
      auto answer = ask(globals, proto::drop_line(o->name));
      if (!answer) return std::unexpected(answer.error());
      return confirm(*answer, o->json, "dropped " + o->name);
    };
  });

  auto* status = app.add_subcommand("status", "pezd's state: version, uptime, database, counters");
  json_flag(status);
  status->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      auto answer = ask(globals, proto::status_line());
      if (!answer) return std::unexpected(answer.error());
      auto shown =
          write_out(o->json ? json_line(*answer) + "\n" : status_table(*answer, globals.socket, globals.socket_from));
      if (!shown) return shown;
      return status_verdict(*answer);
    };
  });
}

}  // namespace pez::cli
