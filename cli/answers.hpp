// SPDX-License-Identifier: Apache-2.0
// What pez admin and pez status share: a question to pezd answered in JSON, and the showing of
// such answers to people.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/failure.hpp"

namespace pez::cli {

// Writes text to standard output and flushes it.
Outcome write_out(std::string const& text);

// Sends one request line to pezd and reads its one-line JSON answer.
std::expected<nlohmann::json, Failure> ask(Globals const& globals, std::string const& line);

// One value of an answer as a cell: "-" for null, yes or no, a fraction as a percentage.
std::string text_of(nlohmann::json const& v);

// Columns sized to their widest cell, two spaces apart.
std::string table(std::vector<std::vector<std::string>> const& rows);

}  // namespace pez::cli
