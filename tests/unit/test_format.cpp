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

TEST_CASE("text in another encoding is made valid UTF-8, each stray byte and control U+FFFD") {
  std::string const replacement = "\xEF\xBF\xBD";
  CHECK(pez::printable("keine Berechtigung f\xC3\xBCr") == "keine Berechtigung f\xC3\xBCr");  // UTF-8 already
  CHECK(pez::printable("\xD0\xBE\xD1\x88 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA0") ==
        "\xD0\xBE\xD1\x88 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA0");
  CHECK(pez::printable("f\xFCr") == "f" + replacement + "r");  // Latin-1
  CHECK(pez::printable("\x80") == replacement);                // a stray continuation
  CHECK(pez::printable("\xC3") == replacement);                // cut short
  CHECK(pez::printable("\xE2\x82") == replacement + replacement);
  CHECK(pez::printable("\xC0\xAF") == replacement + replacement);  // overlong
  CHECK(pez::printable("\xE0\x80\xAF") == replacement + replacement + replacement);
  CHECK(pez::printable("\xED\xA0\x80") == replacement + replacement + replacement);                    // a surrogate
  CHECK(pez::printable("\xF4\x90\x80\x80") == replacement + replacement + replacement + replacement);  // past U+10FFFF
  CHECK(pez::printable("\xF5") == replacement);
  CHECK(pez::printable("") == "");
  // Controls: C0 (an escape sequence, a line break), DEL and C1 (U+009B is a terminal's CSI).
  CHECK(pez::printable("\x1b[31mred") == replacement + "[31mred");
  CHECK(pez::printable("a\nb\tc\x7f") == "a" + replacement + "b" + replacement + "c" + replacement);
  CHECK(pez::printable(std::string("\xC2\x9B") + "31m \xC2\x85") == replacement + "31m " + replacement);
  CHECK(pez::printable(std::string("a\0b", 3)) == "a" + replacement + "b");
}

TEST_CASE("JSON strings are UTF-8 whatever bytes they are given") {
  std::string const replacement = "\xEF\xBF\xBD";
  CHECK(pez::json_string("f\xC3\xBCr \xE2\x82\xAC") == "\"f\xC3\xBCr \xE2\x82\xAC\"");
  CHECK(pez::json_string("f\xFCr") == "\"f" + replacement + "r\"");
  CHECK(pez::json_string("\xE2\x82\"") == "\"" + replacement + replacement + "\\\"\"");
  CHECK(pez::json_string("\xC2\x9B\x1b") == "\"\xC2\x9B\\u001b\"");  // C1 is valid JSON; C0 escaped
  CHECK(pez::error_body("nicht f\xFCr dich") == "{\"error\": \"nicht f" + replacement + "r dich\"}\n");
}

TEST_CASE("quoted keeps untrusted text on one line and short") {
  CHECK(pez::quote_untrusted("abc") == "\"abc\"");
  CHECK(pez::quote_untrusted("a\nb\"c") == "\"a\\nb\\\"c\"");
  CHECK(pez::quote_untrusted(std::string("\xff\x00", 2)) == "\"\\xff\\x00\"");
  auto const long_text = pez::quote_untrusted(std::string(200, 'x'));
  CHECK(long_text.size() < 80);
  CHECK(long_text.find("...") != std::string::npos);
}
