// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the parsing and checking of number templates (number_template.cpp) and by
// rendering and reading rendered values back (number_template_render.cpp). Internal to common/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_digits.hpp"
#include "common/number_template.hpp"

namespace pez::number_template::detail {

void require(bool ok, char const* what);
bool is_digit(char c);
int decimal_width(std::int64_t value);
// Writes value (at most 2^63-1) zero-padded to width digits (at most 19) at `at`; answers the end.
char* write_padded(char* at, std::uint64_t value, int width);
std::string_view field_text(Field field);
check_digits::Algorithm algorithm(Check check);
std::string at(std::size_t position);

// The fields a period needs, and the finest one it allows.
struct PeriodFields {
  bool year, month, day;
};
PeriodFields needs(Period period);
std::size_t fixed_width(std::vector<Part> const& parts);

}  // namespace pez::number_template::detail
