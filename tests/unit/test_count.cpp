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
  std::int64_t v = 0;
  CHECK(pez::parse_int64("9223372036854775807", v));
  CHECK(v == INT64_MAX);
  CHECK(pez::parse_int64("-9223372036854775808", v));
  CHECK(v == INT64_MIN);
  CHECK_FALSE(pez::parse_int64("9223372036854775808", v));
  CHECK_FALSE(pez::parse_int64("+1", v));
  CHECK_FALSE(pez::parse_int64("1 ", v));
}
