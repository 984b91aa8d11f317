// SPDX-License-Identifier: Apache-2.0
// How many numbers one request asks for: parsing and range rules shared by HTTP, socket and CLI.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace pez {

// The one sentence for every count that is not allowed, wherever it was given (HTTP, the socket,
// pez -n): "count must be a whole number from 1 to 100, got "0"". upper: the largest allowed, in
// words when it is not known ("pezd's max_count").
std::string count_error(std::string_view got, std::string_view upper);

// Parses a decimal count of 1..max (digits only, no sign or spaces). The error names the
// allowed range and quotes what was given.
std::expected<std::uint32_t, std::string> parse_count(std::string_view text, std::uint32_t max);

// Parses an unsigned decimal without range checks beyond the type; no sign, no spaces.
[[nodiscard]] bool parse_decimal(std::string_view text, std::uint64_t& value);

enum class ParseError {
  not_a_number,  // empty, a sign other than '-', spaces, or other characters
  out_of_range,  // digits, but beyond -9223372036854775808 .. 9223372036854775807
};

// Parses a signed 64-bit decimal ("-5", "9223372036854775807"); no spaces or '+'.
[[nodiscard]] std::expected<std::int64_t, ParseError> parse_int64(std::string_view text);

}  // namespace pez
