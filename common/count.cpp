// SPDX-License-Identifier: Apache-2.0
#include "common/count.hpp"

#include <charconv>

#include "common/text.hpp"

namespace pez {

bool parse_decimal(std::string_view text, std::uint64_t& value) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  auto const* end = text.data() + text.size();
  auto const [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

std::expected<std::int64_t, ParseError> parse_int64(std::string_view text) {
  if (text.empty() || text[0] == '+') return std::unexpected(ParseError::not_a_number);
  std::int64_t value = 0;
  auto const* end = text.data() + text.size();
  auto const [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ptr != end) return std::unexpected(ParseError::not_a_number);
  if (ec == std::errc::result_out_of_range) return std::unexpected(ParseError::out_of_range);
  if (ec != std::errc()) return std::unexpected(ParseError::not_a_number);
  return value;
}

std::string count_error(std::string_view got, std::string_view upper) {
  return "count must be a whole number from 1 to " + std::string(upper) + ", got " + quote_untrusted(got);
}

std::expected<std::uint32_t, std::string> parse_count(std::string_view text, std::uint32_t max) {
  std::uint64_t value = 0;
  bool const number = parse_decimal(text, value);
  if (!number || value < 1 || value > max) return std::unexpected(count_error(text, std::to_string(max)));
  return static_cast<std::uint32_t>(value);
}

}  // namespace pez
