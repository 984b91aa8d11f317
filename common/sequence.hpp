// SPDX-License-Identifier: Apache-2.0
// What a sequence's settings and state say about its future: the next number, how many are left
// before it wraps or runs out, and how much of its range is used. pezd reports these (pez admin,
// /metrics, the wrap warning) and pez shows them.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace pez {

// The largest value a sequence reaches: 2^63-1.
inline constexpr std::int64_t k_sequence_max = std::numeric_limits<std::int64_t>::max();

struct SequenceShape {
  std::int64_t increment = 1;
  std::int64_t min = 1;
  std::int64_t max = 0;
  std::int64_t start = 1;
  bool cycle = false;
};

struct Outlook {
  std::optional<std::int64_t> next;  // what the next take gives; none when it has run out
  std::uint64_t left = 0;            // numbers before it wraps (cycle) or runs out, next included
  std::uint64_t size = 0;            // numbers in one pass over the range (saturates at 2^64-1)
  double used = 0;                   // fraction of the range handed out in this pass, 0 to 1
};

// The numbers of one whole pass over the range, from min up or from max down (saturates at
// 2^64-1). A sequence that cycles cannot give more in one answer without repeating a number.
std::uint64_t numbers_per_pass(SequenceShape const& shape);

// last_value and called as PostgreSQL keeps them (SELECT last_value, is_called FROM seq).
Outlook outlook(SequenceShape const& shape, std::int64_t last_value, bool called);

// The fraction of the range used once value has been handed out.
double used_after(SequenceShape const& shape, std::int64_t value);

}  // namespace pez
