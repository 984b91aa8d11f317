// SPDX-License-Identifier: Apache-2.0
// pezd as a whole: builds the parts from the settings, runs the event loops, and turns signals
// into their one meaning each (SIGTERM/SIGINT drain and exit, SIGHUP reloads the log level)
// through its Lifecycle (lifecycle.hpp). The daemon is in daemon.cpp, main() in daemon_main.cpp.
#pragma once

#include <string>

#include "daemon/config/config.hpp"

namespace pez::daemon {

// Runs pezd until it is told to stop; returns the process exit code.
int run_daemon(Config config, int argc, char** argv);

// Sets the level of the log ("warning" is spdlog's "warn").
void apply_log_level(std::string const& level);

// The whole of pezd's main(): parse settings, report errors, run.
int daemon_main(int argc, char** argv);

}  // namespace pez::daemon
