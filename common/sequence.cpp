// SPDX-License-Identifier: Apache-2.0
#include "common/sequence.hpp"

#include <limits>

namespace pez {
namespace {

std::uint64_t magnitude(std::int64_t step) {
  return step > 0 ? static_cast<std::uint64_t>(step) : 0 - static_cast<std::uint64_t>(step);
}

// Unsigned distance from a to b, a <= b: always fits.
std::uint64_t distance(std::int64_t a, std::int64_t b) {
  return static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a);
}

// Numbers from value on, value included, before the end of the range in the sequence's direction.
std::uint64_t left_from(SequenceShape const& shape, std::int64_t value) {
  if (value < shape.min || value > shape.max) return 0;
  auto const span = shape.increment > 0 ? distance(value, shape.max) : distance(shape.min, value);
  return span / magnitude(shape.increment) + 1;
}

double fraction_used(std::uint64_t size, std::uint64_t left) {
  if (size == 0) return 1;
  return static_cast<double>(size - left) / static_cast<double>(size);
}

}  // namespace

std::uint64_t numbers_per_pass(SequenceShape const& shape) {
  if (shape.increment == 0 || shape.max < shape.min) return 0;
  auto const steps = distance(shape.min, shape.max) / magnitude(shape.increment);
  return steps == std::numeric_limits<std::uint64_t>::max() ? steps : steps + 1;
}

Outlook outlook(SequenceShape const& shape, std::int64_t last_value, bool called) {
  Outlook out;
  out.size = numbers_per_pass(shape);
  if (shape.increment == 0) return out;
  std::optional<std::int64_t> next = last_value;
  if (called) {
    // last_value + increment, unless that leaves the range (or int64).
    std::int64_t sum = 0;
    bool const past = __builtin_add_overflow(last_value, shape.increment, &sum) || sum > shape.max || sum < shape.min;
    next = past ? std::nullopt : std::optional(sum);
  }
  if (!next || *next < shape.min || *next > shape.max) {
    if (!shape.cycle) {
      out.used = 1;
      return out;
    }
    next = shape.increment > 0 ? shape.min : shape.max;
  }
  out.next = next;
  out.left = left_from(shape, *next);
  out.used = fraction_used(out.size, out.left);
  return out;
}

double used_after(SequenceShape const& shape, std::int64_t value) {
  auto const left = left_from(shape, value);
  auto const size = numbers_per_pass(shape);
  return left == 0 ? 1 : fraction_used(size, left - 1);
}

}  // namespace pez
