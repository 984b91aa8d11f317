// SPDX-License-Identifier: Apache-2.0
// pez admin list | inspect | reset | create | drop: JSON from pezd, shown as tables for people
// or passed through with --json for scripts.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/answers.hpp"
#include "cli/commands.hpp"
#include "common/admin.hpp"
#include "common/count.hpp"
#include "common/forecast.hpp"
#include "common/json_line.hpp"
#include "common/names.hpp"
#include "common/protocol.hpp"
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
    auto const description = printable(seq.value("description", std::string()));
    rows.push_back({text_of(seq["name"]), text_of(seq["direction"]), text_of(seq["next"]), text_of(seq["left"]),
                    text_of(seq["used"]), rate_of(seq.contains("rate_1h") ? seq["rate_1h"] : json()), eta_of(seq),
                    text_of(seq["cycle"]), text_of(seq["mode"]), description.empty() ? "-" : description});
  }
  return table(rows);
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

Outcome run_reset(Globals const& globals, AdminOptions const& o) {
  if (auto ok = check_name(o.name); !ok) return ok;
  std::optional<std::int64_t> to;
  if (!o.to.empty()) {
    auto checked = number_flag("--to", o.to);
    if (!checked) return std::unexpected(checked.error());
    to = *checked;
  }
  // Where it was, to say what the reset skipped or hands out again.
  auto before = ask(globals, proto::inspect_line(o.name));
  if (!before) return std::unexpected(before.error());
  auto answer = ask(globals, proto::reset_line(o.name, to));
  if (!answer) return std::unexpected(answer.error());
  // Next is where the reset put it (--to, or the start): the sequence as read back may
  // already be past it, by a block that pezd reserved from it at once.
  auto const next = to ? std::to_string(*to) : text_of((*answer)["start"]);
  return confirm(*answer, o.json, "reset " + o.name + ": was at " + next_text(*before) + ", next " + next);
}

using Options = std::shared_ptr<AdminOptions>;

void add_json_flag(CLI::App* sub, Options const& o) {
  sub->add_flag("--json", o->json, "Print pezd's JSON answer on standard output");
}

void add_name_arg(CLI::App* sub, Options const& o) {
  sub->add_option("NAME", o->name, "The sequence's name: a-z 0-9 _ -, starting with a letter")->required();
}

void add_list(CLI::App* admin, Globals& globals, Action& action, Options const& o) {
  auto* list = admin->add_subcommand("list", "Every sequence with its state");
  add_json_flag(list, o);
  list->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      auto answer = ask(globals, proto::list_line());
      if (!answer) return std::unexpected(answer.error());
      return show(*answer, o->json, list_table);
    };
  });
}

void add_inspect(CLI::App* admin, Globals& globals, Action& action, Options const& o) {
  auto* inspect = admin->add_subcommand("inspect", "One sequence: direction, bounds, cycle, mode, state");
  add_name_arg(inspect, o);
  add_json_flag(inspect, o);
  inspect->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      if (auto ok = check_name(o->name); !ok) return ok;
      auto answer = ask(globals, proto::inspect_line(o->name));
      if (!answer) return std::unexpected(answer.error());
      return show(*answer, o->json, describe);
    };
  });
}

void add_reset(CLI::App* admin, Globals& globals, Action& action, Options const& o) {
  auto* reset = admin->add_subcommand("reset", "Restart a sequence: the next number is its start, or --to V");
  add_name_arg(reset, o);
  reset->add_option("--to", o->to, "The next number to hand out")->type_name("V");
  add_json_flag(reset, o);
  reset->callback([&globals, &action, o] { action = [&globals, o] { return run_reset(globals, *o); }; });
}

void add_create(CLI::App* admin, Globals& globals, Action& action, Options const& o) {
  auto* create = admin->add_subcommand("create", "Create a named sequence (default: 1, 2, 3, ... cycling)");
  add_name_arg(create, o);
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
  add_json_flag(create, o);
  create->callback([&globals, &action, o] { action = [&globals, o] { return run_create(globals, *o); }; });
}

void add_drop(CLI::App* admin, Globals& globals, Action& action, Options const& o) {
  auto* drop = admin->add_subcommand("drop", "Drop a named sequence (forward and reverse cannot be dropped)");
  add_name_arg(drop, o);
  add_json_flag(drop, o);
  drop->callback([&globals, &action, o] {
    action = [&globals, o]() -> Outcome {
      if (auto ok = check_name(o->name); !ok) return ok;
      auto answer = ask(globals, proto::drop_line(o->name));
      if (!answer) return std::unexpected(answer.error());
      return confirm(*answer, o->json, "dropped " + o->name);
    };
  });
}

}  // namespace

void add_admin_commands(CLI::App& app, Globals& globals, Action& action) {
  auto* admin = app.add_subcommand("admin", "Inspect and manage sequences (needs admin rights on pezd's socket)");
  admin->require_subcommand(1);
  auto o = std::make_shared<AdminOptions>();
  add_list(admin, globals, action, o);
  add_inspect(admin, globals, action, o);
  add_reset(admin, globals, action, o);
  add_create(admin, globals, action, o);
  add_drop(admin, globals, action, o);
}

}  // namespace pez::cli
