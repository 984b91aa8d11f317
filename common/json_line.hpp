// SPDX-License-Identifier: Apache-2.0
#pragma once
// JSON as PEZ writes it, in every answer of pezd and in pez's --json output: one line, ", "
// between members and elements, ": " after a key, strings escaped as json_string
// (common/text.hpp) escapes them, members in their order.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace pez {

std::string json_line(nlohmann::ordered_json const& value);
std::string json_line(nlohmann::json const& value);

// A text, or null when there is none.
inline nlohmann::ordered_json text_or_null(std::optional<std::string> const& text) {
  return text ? nlohmann::ordered_json(*text) : nlohmann::ordered_json(nullptr);
}

}  // namespace pez
