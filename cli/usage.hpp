// SPDX-License-Identifier: Apache-2.0
// Usage errors and help in pez's own words. CLI11 says that something is wrong; this walks the
// command line through the same commands and options to say what, for which command, with a
// suggestion for a typo and where the help is.
#pragma once

#include <CLI/CLI.hpp>
#include <expected>
#include <string>
#include <vector>

namespace pez::cli {

// The one line for a command line CLI11 refused (args without the program name); fallback is
// CLI11's own message, used when the walk finds nothing wrong.
std::string usage_message(CLI::App const& app, std::vector<std::string> const& args, std::string const& fallback);

// pez help [COMMAND...]: the help of the command the words name, or a usage error.
std::expected<std::string, std::string> help_for(CLI::App const& app, std::vector<std::string> const& words);

}  // namespace pez::cli
