// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "common/sequence.hpp"

using pez::outlook;
using pez::SequenceShape;

TEST_CASE("outlook: a new ascending sequence starts at its start with the whole range left") {
  SequenceShape const shape{1, 1, 10, 1, false};
  auto const o = outlook(shape, 1, false);
  CHECK(o.next == 1);
  CHECK(o.left == 10);
  CHECK(o.size == 10);
  CHECK(o.used == doctest::Approx(0));
}

TEST_CASE("outlook: ascending, part used") {
  SequenceShape const shape{1, 1, 10, 1, true};
  auto const o = outlook(shape, 7, true);
  CHECK(o.next == 8);
  CHECK(o.left == 3);
  CHECK(o.used == doctest::Approx(0.7));
}

TEST_CASE("outlook: a countdown without cycle that gave its last number has run out") {
  SequenceShape const shape{-1, 1, 3, 3, false};
  auto const o = outlook(shape, 1, true);
  CHECK_FALSE(o.next.has_value());
  CHECK(o.left == 0);
  CHECK(o.used == doctest::Approx(1));
  auto const before = outlook(shape, 2, true);
  CHECK(before.next == 1);
  CHECK(before.left == 1);
}

TEST_CASE("outlook: a cycling sequence at its end starts over") {
  SequenceShape const shape{1, 1, pez::k_sequence_max, 1, true};
  auto const o = outlook(shape, pez::k_sequence_max, true);
  CHECK(o.next == 1);
  CHECK(o.left == static_cast<std::uint64_t>(pez::k_sequence_max));
  SequenceShape const down{-1, 1, pez::k_sequence_max, pez::k_sequence_max, true};
  auto const d = outlook(down, 1, true);
  CHECK(d.next == pez::k_sequence_max);
}

TEST_CASE("outlook: a step that would leave int64 does not overflow") {
  SequenceShape const shape{-(pez::k_sequence_max / 2), pez::k_sequence_max / 2, pez::k_sequence_max,
                            pez::k_sequence_max, false};
  auto const o = outlook(shape, pez::k_sequence_max / 2, true);
  CHECK_FALSE(o.next.has_value());
  SequenceShape const up{pez::k_sequence_max / 2, 1, pez::k_sequence_max, 1, false};
  CHECK_FALSE(outlook(up, pez::k_sequence_max - 1, true).next.has_value());
  CHECK(outlook(up, 1, true).next == 1 + pez::k_sequence_max / 2);
}

TEST_CASE("outlook: a reset to a value in the middle counts from there") {
  SequenceShape const shape{1, 1, 1000, 1, true};
  auto const o = outlook(shape, 500, false);
  CHECK(o.next == 500);
  CHECK(o.left == 501);
}

TEST_CASE("used_after: the fraction of the range handed out once a value was given") {
  SequenceShape const shape{1, 1, 10, 1, true};
  CHECK(pez::used_after(shape, 9) == doctest::Approx(0.9));
  CHECK(pez::used_after(shape, 10) == doctest::Approx(1.0));
  SequenceShape const down{-1, 1, 10, 10, true};
  CHECK(pez::used_after(down, 10) == doctest::Approx(0.1));
}
