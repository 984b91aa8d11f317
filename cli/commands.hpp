// SPDX-License-Identifier: Apache-2.0
// The pez commands. Each adds its subcommand to the app and, when chosen, sets the action that
// runs it; cli.cpp turns the outcome into output and an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cli/failure.hpp"

namespace pez::cli {

struct Globals {
  std::string socket;
  std::string timeout = "30s";
  std::string socket_from = "default";  // where socket came from: --socket, PEZ_SOCKET or default
  bool stdout_closed = false;           // pez was started with descriptor 1 closed
};

using Action = std::function<Outcome()>;

void add_number_commands(CLI::App& app, Globals& globals, Action& action);
void add_admin_commands(CLI::App& app, Globals& globals, Action& action);
void add_status_command(CLI::App& app, Globals& globals, Action& action);

}  // namespace pez::cli
