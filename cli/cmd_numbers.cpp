// pez forward | reverse | next NAME [-n N] [--json]: numbers on stdout, one per line.
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

struct NumberOptions {
  std::string name;
  std::string count = "1";
  bool json = false;
};

Outcome take_numbers(Globals const& globals, NumberOptions const& options) {
  if (auto ok = check_sequence_name(options.name); !ok) return std::unexpected(Failure{k_exit_usage, ok.error()});
  std::uint64_t count = 0;
  if (!parse_decimal(options.count, count) || count < 1 || count > 0xffffffffULL) {
    return std::unexpected(Failure{k_exit_usage, count_error(options.count, "pezd's max_count")});
  }
  auto timeout = settings::parse_duration(globals.timeout, std::chrono::milliseconds(1), std::chrono::hours(1));
  if (!timeout) return std::unexpected(Failure{k_exit_usage, "--timeout: " + timeout.error()});
  if (globals.stdout_closed) {
    return std::unexpected(Failure{k_exit_failure,
                                   "standard output is closed, so the numbers would be lost; none were taken "
                                   "(redirect it to a file, or to /dev/null to throw numbers away)"});
  }

  Client client(globals.socket, *timeout);
  auto answers = client.exchange({proto::next_line(options.name, static_cast<std::uint32_t>(count))});
  if (!answers) return std::unexpected(answers.error());
  auto numbers = proto::parse_numbers(answers->front());
  if (!numbers) return std::unexpected(failure_from(numbers.error()));

  std::string out;
  if (options.json) {
    append_v2_body(out, *numbers);
  } else {
    for (auto n : *numbers) {
      append_decimal(out, n);
      out += '\n';
    }
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return std::unexpected(Failure{k_exit_failure, "cannot write the numbers to standard output"});
  }
  return {};
}

void add_number_options(CLI::App* sub, NumberOptions& options) {
  sub->add_option("-n,--count", options.count, "How many numbers: 1 to pezd's max_count (100 unless configured); default 1")
      ->type_name("N");
  sub->add_flag("--json", options.json, "Print a JSON list, as /v2 does, instead of one number per line");
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
    sub->callback([&globals, &action, options] { action = [&globals, options] { return take_numbers(globals, *options); }; });
  }
  auto options = std::make_shared<NumberOptions>();
  auto* next = app.add_subcommand("next", "Numbers from the named sequence NAME");
  next->add_option("NAME", options->name, "The sequence's name: a-z 0-9 _ -, starting with a letter")->required();
  add_number_options(next, *options);
  next->callback([&globals, &action, options] { action = [&globals, options] { return take_numbers(globals, *options); }; });
}

}  // namespace pez::cli
