// SPDX-License-Identifier: Apache-2.0
// The pez commands. Each adds its subcommand to the app and, when chosen, sets the action that
// runs it; cli.cpp turns the outcome into output and an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cli/failure.hpp"
#include "cli/take.hpp"

namespace pez::cli {

using Action = std::function<Outcome()>;

void add_number_commands(CLI::App& app, Globals& globals, Action& action);
void add_admin_commands(CLI::App& app, Globals& globals, Action& action);
void add_status_command(CLI::App& app, Globals& globals, Action& action);

// All of them, help included: the commands of k_command_names (take.hpp), no more, no fewer.
void add_commands(CLI::App& app, Globals& globals, Action& action);

}  // namespace pez::cli
