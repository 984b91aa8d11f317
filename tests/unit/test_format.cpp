// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/format.hpp"
#include "common/text.hpp"

TEST_CASE("v1 body: a bare number and a newline") {
  std::string out;
  pez::append_v1_body(out, 71);
  CHECK(out == "71\n");
  out.clear();
  pez::append_v1_body(out, 9223372036854775807LL);
  CHECK(out == "9223372036854775807\n");
}

TEST_CASE("v2 body: a JSON list with comma and space, as the original service wrote it") {
  std::string out;
  std::vector<std::int64_t> const values{30011, 30012, 30013, 30014, 30015};
  pez::append_v2_body(out, values);
  CHECK(out == "[30011, 30012, 30013, 30014, 30015]\n");
  out.clear();
  std::vector<std::int64_t> const one{30016};
  pez::append_v2_body(out, one);
  CHECK(out == "[30016]\n");
}

TEST_CASE("as=string: the same bodies with each number a JSON string") {
  std::string out;
  pez::append_v1_body(out, 9223372036854775807LL, pez::NumberForm::string);
  CHECK(out == "\"9223372036854775807\"\n");
  out.clear();
  pez::append_v1_body(out, -5, pez::NumberForm::string);
  CHECK(out == "\"-5\"\n");
  out.clear();
  std::vector<std::int64_t> const values{1, 2};
  pez::append_v2_body(out, values, pez::NumberForm::string);
  CHECK(out == "[\"1\", \"2\"]\n");
  out.clear();
  pez::append_v2_body(out, values, pez::NumberForm::number);
  CHECK(out == "[1, 2]\n");
}

TEST_CASE("v2 body: the longest numbers, after what the string held, and no numbers") {
  std::string out = "HTTP/1.1 200 OK\r\n\r\n";
  std::vector<std::int64_t> const values{INT64_MIN, INT64_MAX, -1, 0};
  pez::append_v2_body(out, values, pez::NumberForm::string);
  CHECK(out == "HTTP/1.1 200 OK\r\n\r\n[\"-9223372036854775808\", \"9223372036854775807\", \"-1\", \"0\"]\n");
  out.clear();
  std::vector<std::int64_t> const many(1000, INT64_MIN);
  pez::append_v2_body(out, many);
  CHECK(out.size() == 1 + 1000 * 20 + 999 * 2 + 2);
  CHECK(out.starts_with("[-9223372036854775808, -9223372036854775808, "));
  CHECK(out.ends_with(", -9223372036854775808]\n"));
  out.clear();
  pez::append_v2_body(out, std::span<std::int64_t const>{});
  CHECK(out == "[]\n");
}

TEST_CASE("error bodies are JSON objects with escaped messages") {
  CHECK(pez::error_body("count must be 1") == "{\"error\": \"count must be 1\"}\n");
  CHECK(pez::error_body("a \"b\"\n\\") == "{\"error\": \"a \\\"b\\\"\\n\\\\\"}\n");
  CHECK(pez::error_body(std::string("\x01", 1)) == "{\"error\": \"\\u0001\"}\n");
}

TEST_CASE("text in another encoding is made valid UTF-8, each stray byte U+FFFD") {
  auto const valid = [](std::string_view text) {
    std::string out;
    pez::append_valid_utf8(out, text);
    return out;
  };
  std::string const replacement = "\xEF\xBF\xBD";
  CHECK(valid("keine Berechtigung f\xC3\xBCr") == "keine Berechtigung f\xC3\xBCr");  // UTF-8 already
  CHECK(valid("\xD0\xBE\xD1\x88 \xE2\x82\xAC \xF0\x9F\x98\x80") == "\xD0\xBE\xD1\x88 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(valid("f\xFCr") == "f" + replacement + "r");  // Latin-1
  CHECK(valid("\x80") == replacement);                // a stray continuation
  CHECK(valid("\xC3") == replacement);                // cut short
  CHECK(valid("\xE2\x82") == replacement + replacement);
  CHECK(valid("\xC0\xAF") == replacement + replacement);  // overlong
  CHECK(valid("\xE0\x80\xAF") == replacement + replacement + replacement);
  CHECK(valid("\xED\xA0\x80") == replacement + replacement + replacement);                    // a surrogate
  CHECK(valid("\xF4\x90\x80\x80") == replacement + replacement + replacement + replacement);  // past U+10FFFF
  CHECK(valid("\xF5") == replacement);
  CHECK(valid("") == "");
}

TEST_CASE("quoted keeps untrusted text on one line and short") {
  CHECK(pez::quote_untrusted("abc") == "\"abc\"");
  CHECK(pez::quote_untrusted("a\nb\"c") == "\"a\\nb\\\"c\"");
  CHECK(pez::quote_untrusted(std::string("\xff\x00", 2)) == "\"\\xff\\x00\"");
  auto const long_text = pez::quote_untrusted(std::string(200, 'x'));
  CHECK(long_text.size() < 80);
  CHECK(long_text.find("...") != std::string::npos);
}
