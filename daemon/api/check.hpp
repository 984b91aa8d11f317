// SPDX-License-Identifier: Apache-2.0
// pez check, CHECK on the socket and GET /v1/NAME/check: whether a value is one a formatted
// sequence can hand out (its shape, its number within the range, a real date, its check
// characters), decided from the template alone, without the database.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "common/errors.hpp"
#include "common/number_template.hpp"

namespace pez::daemon {

struct CheckVerdict {
  bool valid = false;
  std::string reason;  // why not, when not valid
};

// Longest value a check looks at: longer ones are no rendering (64 bytes at most) and are
// refused as such without being read.
inline constexpr std::size_t k_check_reads_at_most = 200;

// The verdict on value for sequence name, whose template is format (null: the sequence has no
// format, and the question is refused as a bad request).
std::expected<CheckVerdict, Error> check_value(std::string_view name, number_template::NumberTemplate const* format,
                                               std::string_view value);

}  // namespace pez::daemon
