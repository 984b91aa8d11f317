// SPDX-License-Identifier: Apache-2.0
// What an operator asks of pez admin create and reset, as JSON: the body of POST /admin/sequences,
// the argument of the socket's CREATE, and what pez admin create sends. Checked here, before
// anything reaches the database.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace pez {

inline constexpr std::int64_t k_largest = 9223372036854775807;
inline constexpr std::size_t k_max_description = 200;

struct CreateSpec {
  std::string name;
  std::int64_t start = 1;
  std::int64_t min = 1;
  std::int64_t max = k_largest;
  std::int64_t increment = 1;  // negative: descending
  bool cycle = true;
  std::optional<std::string> mode;  // strict or block; none: the daemon's setting
  std::string description;
  // A formatted sequence (DESIGN §5): its template, checked against the range, the period and the
  // check algorithm here; the period (yearly, monthly, daily), its time zone (an IANA name, checked
  // by the database; UTC when left out) and the check algorithm (luhn, damm, mod97).
  std::optional<std::string> format;
  std::optional<std::string> period;
  std::optional<std::string> time_zone;
  std::optional<std::string> check;
};

// {"name": "tickets", "start": 1000, "min": 1, "max": 99999, "increment": 1, "descending": false,
//  "cycle": true, "mode": "block", "description": "...", "format": "INV-{YYYY}-{n:06}",
//  "period": "yearly", "timezone": "Europe/Berlin", "check": "luhn"}; only name is required. The
// error says what is wrong and what is allowed.
std::expected<CreateSpec, std::string> parse_create_spec(std::string_view json);

// The body of a reset: empty, {} or {"to": V}.
std::expected<std::optional<std::int64_t>, std::string> parse_reset_body(std::string_view json);

}  // namespace pez
