// SPDX-License-Identifier: Apache-2.0
#include "cli/cli.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/answers.hpp"
#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "cli/take.hpp"
#include "cli/usage.hpp"
#include "common/protocol.hpp"
#include "common/stdio.hpp"
#include "common/version.hpp"

namespace pez::cli {

namespace {

// --socket and --timeout, and where the socket's path came from.
void add_global_options(CLI::App& app, Globals& globals) {
  default_socket(globals);
  app.add_option_function<std::string>(
         "--socket",
         [&globals](std::string const& path) {
           globals.socket = path;
           globals.socket_from = "--socket";
         },
         std::string("pezd's Unix socket (env PEZ_SOCKET; default ") + proto::k_default_socket_path + ")")
      ->type_name("PATH");
  app.add_option("--timeout", globals.timeout, "Longest wait for pezd's answer, such as 10s (default 30s)")
      ->type_name("DURATION");
}

void add_help_command(CLI::App& app, Action& action) {
  auto* help = app.add_subcommand("help", "Help for pez or for a command, such as: pez help admin reset");
  auto words = std::make_shared<std::vector<std::string>>();
  help->add_option("COMMAND", *words, "The command to explain");
  help->fallthrough(false);  // "pez help forward" explains forward rather than running it
  help->callback([&app, &action, words] {
    action = [&app, words]() -> Outcome {
      auto text = help_for(app, *words);
      if (!text) return std::unexpected(Failure{k_exit_usage, text.error()});
      return write_out(*text);
    };
  });
}

// pez --help and pez --version: what each prints, and its exit code (1, said why, when it could
// not be written, as any other output of pez).
int print_out(std::string const& text) { return report(write_out(text)); }

int print_help(CLI::App const& app) { return print_out(app.help()); }

int print_version() { return print_out("pez " + std::string(k_version) + "\n"); }

// The exit code of a command line that CLI11 did not take, or nothing when it chose an action.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, Action const& action) {
  // Asked for alone, the version and the help are printed without CLI11's parse, which answers
  // them by throwing: the first exception in a static program costs milliseconds (the unwinder
  // sorts every frame description of the program first).
  if (argc == 2) {
    std::string_view const only = argv[1];
    if (only == "--version") return print_version();
    if (only == "--help" || only == "-h") return print_help(app);
  }
  try {
    app.parse(argc, argv);
  } catch (CLI::CallForHelp const&) {
    return print_help(app);
  } catch (CLI::CallForAllHelp const&) {
    return print_out(app.help("", CLI::AppFormatMode::All));
  } catch (CLI::CallForVersion const&) {
    return print_version();
  } catch (CLI::ParseError const& e) {
    std::vector<std::string> const args(argv + std::min(argc, 1), argv + argc);
    std::fprintf(stderr, "pez: error: %s\n", usage_message(app, args, e.what()).c_str());
    return k_exit_usage;
  }
  if (!action) {
    std::vector<std::string> const args(argv + std::min(argc, 1), argv + argc);
    std::fprintf(stderr, "pez: error: %s\n", usage_message(app, args, "no command given").c_str());
    return k_exit_usage;
  }
  return std::nullopt;
}

}  // namespace

void add_commands(CLI::App& app, Globals& globals, Action& action) {
  add_number_commands(app, globals, action);
  add_admin_commands(app, globals, action);
  add_status_command(app, globals, action);
  add_help_command(app, action);
}

int cli_main(int argc, char** argv) {
  // Before anything opens a descriptor: a closed 0-2 would otherwise become pezd's socket.
  auto const standard = ensure_standard_descriptors();
  if (!standard.ok) {
    std::fputs("pez: error: cannot open /dev/null for a closed standard descriptor\n", stderr);
    return k_exit_failure;
  }
  CLI::App app{"pez takes unique numbers from pezd, the PEZ number dispenser.", "pez"};
  app.set_version_flag("--version", std::string("pez ") + k_version);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(
      "Exit codes: 0 success, 64 usage error, 69 pezd unreachable, 75 database unavailable (retry later), "
      "77 permission denied, 78 pezd's database settings are wrong (retrying will not help), 1 anything else. "
      "See pez(1).");

  Globals globals;
  globals.stdout_closed = standard.was_closed[1];
  add_global_options(app, globals);

  Action action;
  add_commands(app, globals, action);

  if (auto code = parse_command_line(app, argc, argv, action)) return *code;
  return report(action());
}

}  // namespace pez::cli
