// SPDX-License-Identifier: Apache-2.0
// Which command lines pez takes numbers for by itself (cli/take.hpp), and which it leaves to the
// whole pez. tests/integration/test_cli.py checks that both read each line alike.
#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/take.hpp"

using pez::cli::parse_plain_take;

namespace {

// A command line that must be a plain take.
pez::cli::PlainTake parse(std::initializer_list<char const*> words) {
  std::vector<char const*> argv{"pez"};
  argv.insert(argv.end(), words);
  auto take = parse_plain_take(static_cast<int>(argv.size()), argv.data());
  if (!take) {
    FAIL("not a plain take");
    return {};
  }
  return *take;
}

}  // namespace

TEST_CASE("plain take: forward, reverse and next with their options, in any order") {
  ::unsetenv("PEZ_SOCKET");
  auto take = parse({"forward"});
  CHECK(take.options.name == "forward");
  CHECK(take.options.count == "1");
  CHECK_FALSE(take.options.json);
  CHECK(take.globals.socket == "/run/pez/pezd.sock");
  CHECK(take.globals.socket_from == "default");
  CHECK(take.globals.timeout == "30s");

  take = parse({"--socket", "/tmp/s", "next", "-n", "5", "tick", "--json", "--timeout=2s"});
  CHECK(take.options.name == "tick");
  CHECK(take.options.count == "5");
  CHECK(take.options.json);
  CHECK(take.globals.socket == "/tmp/s");
  CHECK(take.globals.socket_from == "--socket");
  CHECK(take.globals.timeout == "2s");

  take = parse({"reverse", "--count=7", "--socket=/x"});
  CHECK(take.options.name == "reverse");
  CHECK(take.options.count == "7");
  CHECK(take.globals.socket == "/x");

  ::setenv("PEZ_SOCKET", "/from/env", 1);
  take = parse({"forward"});
  CHECK(take.globals.socket == "/from/env");
  CHECK(take.globals.socket_from == "PEZ_SOCKET");
  ::unsetenv("PEZ_SOCKET");
}

TEST_CASE("plain take: every other command line is left to the whole pez") {
  for (auto const& words : std::vector<std::vector<char const*>>{
           {},
           {"status"},
           {"admin", "list"},
           {"help", "forward"},
           {"forward", "--help"},
           {"-h"},
           {"--version"},
           {"forward", "extra"},
           {"next"},
           {"next", "a", "b"},
           {"next", "status"},
           {"next", "--", "tick"},
           {"-n", "2", "forward"},
           {"--json", "forward"},
           {"forward", "-n"},
           {"forward", "-n", ""},
           {"forward", "-n", "-3"},
           {"forward", "-n5"},
           {"forward", "-n=5"},
           {"forward", "--count="},
           {"forward", "-n", "1", "--count", "2"},
           {"forward", "--json", "--json"},
           {"forward", "--json=yes"},
           {"--socket", "forward"},
           {"--socket", "/s", "forward", "--socket", "/s"},
           {"--timeout", "1s", "--timeout", "1s", "forward"},
           {"forward", "--frobnicate"},
           {"forwrad"},
       }) {
    std::vector<char const*> argv{"pez"};
    argv.insert(argv.end(), words.begin(), words.end());
    std::string line;
    for (auto const* word : words) line += std::string(word) + ' ';
    CAPTURE(line);
    CHECK_FALSE(parse_plain_take(static_cast<int>(argv.size()), argv.data()));
  }
}

TEST_CASE("plain take: the command names it knows are the whole pez's commands, no more, no fewer") {
  // A command added to the whole pez and not to k_command_names would be read by the plain take
  // as a sequence name or an option's value where CLI11 reads a command.
  CLI::App app;
  pez::cli::Globals globals;
  pez::cli::Action action;
  pez::cli::add_commands(app, globals, action);
  std::vector<std::string> added;
  for (auto const* command : app.get_subcommands({})) added.push_back(command->get_name());
  std::vector<std::string> known(pez::cli::k_command_names.begin(), pez::cli::k_command_names.end());
  auto words = [](std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    std::string line;
    for (auto const& name : names) line += name + ' ';
    return line;
  };
  CHECK(words(added) == words(known));
  for (auto const& name : known) {
    CAPTURE(name);
    std::vector<char const*> const as_name{"pez", "next", name.c_str()};
    CHECK_FALSE(parse_plain_take(static_cast<int>(as_name.size()), as_name.data()));
    std::vector<char const*> const as_value{"pez", "forward", "-n", name.c_str()};
    CHECK_FALSE(parse_plain_take(static_cast<int>(as_value.size()), as_value.data()));
  }
}
