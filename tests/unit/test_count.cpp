// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include "common/count.hpp"

using pez::parse_count;

TEST_CASE("count: whole numbers from 1 to the maximum") {
  CHECK(parse_count("1", 100).value() == 1);
  CHECK(parse_count("100", 100).value() == 100);
  CHECK(parse_count("007", 100).value() == 7);
}

TEST_CASE("count: everything else is refused with the allowed range in the message") {
  for (auto bad : {"0", "101", "-1", "+5", "abc", "", " 5", "5 ", "1.5", "1e2", "0x10", "99999999999999999999999"}) {
    CAPTURE(bad);
    auto result = parse_count(bad, 100);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().find("from 1 to 100") != std::string::npos);
  }
}

TEST_CASE("parse_int64 covers the whole signed range") {
  CHECK(pez::parse_int64("9223372036854775807") == INT64_MAX);
  CHECK(pez::parse_int64("-9223372036854775808") == INT64_MIN);
  CHECK(pez::parse_int64("9223372036854775808").error() == pez::ParseError::out_of_range);
  CHECK(pez::parse_int64("-9223372036854775809").error() == pez::ParseError::out_of_range);
  CHECK(pez::parse_int64("+1").error() == pez::ParseError::not_a_number);
  CHECK(pez::parse_int64("1 ").error() == pez::ParseError::not_a_number);
  CHECK(pez::parse_int64("").error() == pez::ParseError::not_a_number);
  CHECK(pez::parse_int64("-").error() == pez::ParseError::not_a_number);
  CHECK(pez::parse_int64("x1").error() == pez::ParseError::not_a_number);
}
