// SPDX-License-Identifier: Apache-2.0
// Taking numbers (pez forward | reverse | next NAME [-n N] [--json]), apart from the rest of pez:
// this part is the whole of the program shell scripts run once per number (front.cpp), so
// nothing in it may bring CLI11 or the standard streams, whose start-up would cost more than
// the take itself.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "cli/failure.hpp"

namespace pez::cli {

struct Globals {
  std::string socket;
  std::string timeout = "30s";
  std::string socket_from = "default";  // where socket came from: --socket, PEZ_SOCKET or default
  bool stdout_closed = false;           // pez was started with descriptor 1 closed
};

struct NumberOptions {
  std::string name;
  std::string count = "1";
  bool json = false;
};

// pez's commands, the words CLI11 reads as a command wherever they stand. The whole pez adds
// exactly these (cli.cpp's add_commands; tests/unit/test_plain_take.cpp holds the two together),
// and the plain take reads none of them as a value or a name.
inline constexpr std::array<std::string_view, 7> k_command_names{"forward", "reverse", "next", "check",
                                                                 "admin",   "status",  "help"};

// The socket pez asks when neither --socket nor PEZ_SOCKET names one, with where it came from.
void default_socket(Globals& globals);

// Takes the numbers and writes them to standard output, one per line (or the /v2 JSON list).
Outcome take_numbers(Globals const& globals, NumberOptions const& options);

// A command line of the plain forms of forward, reverse and next: --socket and --timeout (with
// a space or '='), -n or --count N (--count=N), --json, each at most once, in any order after
// the program's name, and nothing else. Anything else (help, a repeated or unknown option, a
// missing or extra operand, a value starting with '-' or empty) is nothing: the whole pez reads
// it, and decides what it means or what is wrong with it.
struct PlainTake {
  Globals globals;
  NumberOptions options;
};
std::optional<PlainTake> parse_plain_take(int argc, char const* const* argv);

// What cli.cpp prints for a failed command: its line on standard error (none when the message
// is empty), and the exit code to return.
int report(Outcome const& outcome);

}  // namespace pez::cli
