// SPDX-License-Identifier: Apache-2.0
// pez forward | reverse | next NAME [-n N] [--json]: numbers on stdout, one per line.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "common/count.hpp"
#include "common/format.hpp"
#include "common/names.hpp"
#include "common/protocol.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"

namespace pez::cli {
namespace {

void add_number_options(CLI::App* sub, NumberOptions& options) {
  sub->add_option("-n,--count", options.count,
                  "How many numbers: 1 to pezd's max_count (100 unless configured); default 1")
      ->type_name("N");
  sub->add_flag("--json", options.json, "Print a JSON list, as /v2 does, instead of one number per line");
}

struct CheckOptions {
  std::string name;
  std::string value;
  bool quiet = false;
};

// pez check NAME VALUE: exit 0 if VALUE is a number NAME's format prints, 1 if not (and why, on
// standard error, unless --quiet).
Outcome check_number(Globals const& globals, CheckOptions const& options) {
  if (auto ok = check_sequence_name(options.name); !ok) return std::unexpected(Failure{k_exit_usage, ok.error()});
  auto timeout = settings::parse_duration(globals.timeout, std::chrono::milliseconds(1), std::chrono::hours(1));
  if (!timeout) return std::unexpected(Failure{k_exit_usage, "--timeout: " + timeout.error()});
  // The socket's words hold no space or control byte, and neither does a number any format prints.
  bool const printable = !options.value.empty() && std::ranges::all_of(options.value, [](char c) {
    auto const u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
  std::string verdict = "invalid: it holds a space, a control byte or a byte outside ASCII, which no format prints";
  if (printable) {
    Client client(globals.socket, *timeout);
    auto answers = client.exchange({proto::check_line(options.name, options.value)});
    if (!answers) return std::unexpected(answers.error());
    verdict = answers->front();
  }
  if (verdict == "valid") return {};
  if (!verdict.starts_with("invalid")) {
    return std::unexpected(
        Failure{k_exit_failure, "pezd sent an answer this pez cannot read: " + quote_untrusted(verdict)});
  }
  auto const reason = verdict.size() > 9 ? verdict.substr(9) : std::string("no reason given");
  return std::unexpected(
      Failure{k_exit_failure, options.quiet ? std::string() : "not a number of " + options.name + ": " + reason});
}

}  // namespace

void add_number_commands(CLI::App& app, Globals& globals, Action& action) {
  struct Fixed {
    char const* name;
    char const* help;
  };
  for (auto fixed : {Fixed{"forward", "Numbers from the ascending sequence: 1, 2, 3, ..."},
                     Fixed{"reverse", "Numbers from the descending sequence: 9223372036854775807, ..."}}) {
    auto options = std::make_shared<NumberOptions>();
    options->name = fixed.name;
    auto* sub = app.add_subcommand(fixed.name, fixed.help);
    add_number_options(sub, *options);
    sub->callback(
        [&globals, &action, options] { action = [&globals, options] { return take_numbers(globals, *options); }; });
  }
  auto options = std::make_shared<NumberOptions>();
  auto* next = app.add_subcommand("next", "Numbers from the named sequence NAME");
  next->add_option("NAME", options->name, "The sequence's name: a-z 0-9 _ -, starting with a letter")->required();
  add_number_options(next, *options);
  next->callback(
      [&globals, &action, options] { action = [&globals, options] { return take_numbers(globals, *options); }; });

  auto check = std::make_shared<CheckOptions>();
  auto* sub =
      app.add_subcommand("check", "Whether VALUE is a number of the formatted sequence NAME (exit 0) or not (exit 1)");
  sub->add_option("NAME", check->name, "The formatted sequence's name")->required();
  sub->add_option("VALUE", check->value, "The number as printed, such as INV-2026-000042-7")->required();
  sub->add_flag("-q,--quiet", check->quiet, "Say nothing; only the exit status tells");
  sub->callback([&globals, &action, check] { action = [&globals, check] { return check_number(globals, *check); }; });
}

}  // namespace pez::cli
