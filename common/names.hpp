// SPDX-License-Identifier: Apache-2.0
// Sequence names: what a valid one looks like (DESIGN §5), checked before any name nears SQL.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace pez {

inline constexpr std::size_t k_max_name_length = 48;

// 1–48 characters of a-z 0-9 _ -, starting with a letter. The error says what is wrong.
std::expected<void, std::string> check_sequence_name(std::string_view name);

inline bool is_sequence_name(std::string_view name) { return check_sequence_name(name).has_value(); }

}  // namespace pez
