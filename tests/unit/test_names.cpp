// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <string>

#include "common/names.hpp"

using pez::check_sequence_name;

TEST_CASE("names: valid ones") {
  for (std::string good : {std::string("forward"), std::string("reverse"), std::string("a"),
                           std::string("invoice-2024"), std::string("job_numbers"), std::string("z9"),
                           std::string(48, 'a')}) {
    CAPTURE(good);
    CHECK(check_sequence_name(good).has_value());
  }
}

TEST_CASE("names: hostile and malformed ones are refused, and the message is one safe line") {
  for (std::string bad : {std::string(""), std::string("Forward"), std::string("9lives"), std::string("-x"),
                          std::string("_x"), std::string("a b"), std::string("a;drop table x"),
                          std::string("a\"b"), std::string("a'b"), std::string("../etc"), std::string("a\nb"),
                          std::string(49, 'a'), std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    CAPTURE(bad);
    auto result = check_sequence_name(bad);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().find('\n') == std::string::npos);
    CHECK(result.error().find("a-z") != std::string::npos);
  }
}
