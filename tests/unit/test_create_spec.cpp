// SPDX-License-Identifier: Apache-2.0
// parse_create_spec (common/admin.hpp): the JSON of pez admin create, the socket's CREATE and
// POST /admin/sequences, read into a CreateSpec with its defaults, or refused with a message that
// says what is wrong. (The format fields have their test in test_printing.cpp.)
#include <doctest/doctest.h>

#include <string>

#include "common/admin.hpp"

using pez::k_largest;
using pez::parse_create_spec;

namespace {

pez::CreateSpec good(std::string const& json) {
  CAPTURE(json);
  auto r = parse_create_spec(json);
  if (!r) FAIL_CHECK(r.error());
  REQUIRE(r);
  return *r;
}

std::string refused(std::string const& json) {
  CAPTURE(json);
  auto r = parse_create_spec(json);
  REQUIRE_FALSE(r);
  return r.error();
}

}  // namespace

TEST_CASE("create spec: only the name is needed; the rest has defaults") {
  auto s = good(R"({"name": "tickets"})");
  CHECK(s.name == "tickets");
  CHECK(s.start == 1);
  CHECK(s.min == 1);
  CHECK(s.max == k_largest);
  CHECK(s.increment == 1);
  CHECK(s.cycle);
  CHECK_FALSE(s.mode);
  CHECK(s.description.empty());
  CHECK_FALSE(s.format);
  CHECK_FALSE(s.period);
  CHECK_FALSE(s.time_zone);
  CHECK_FALSE(s.check);
  // White space around and within the JSON is JSON's own.
  CHECK(good(" \n{ \"name\" :\t\"t\" }\r\n").name == "t");
}

TEST_CASE("create spec: every field, in any order") {
  auto s = good(R"({"description": "ticket numbers", "mode": "block", "cycle": false, "increment": 5,
                    "max": 99999, "min": 1000, "start": 2000, "name": "tickets", "descending": false})");
  CHECK(s.name == "tickets");
  CHECK(s.start == 2000);
  CHECK(s.min == 1000);
  CHECK(s.max == 99999);
  CHECK(s.increment == 5);
  CHECK_FALSE(s.cycle);
  CHECK(s.mode == "block");
  CHECK(s.description == "ticket numbers");
  CHECK(good(R"({"name": "t", "mode": "strict"})").mode == "strict");
  CHECK_FALSE(good(R"({"name": "t", "mode": null})").mode);  // the daemon's setting
}

TEST_CASE("create spec: a descending sequence steps down and starts at its max") {
  auto s = good(R"({"name": "countdown", "descending": true, "max": 3})");
  CHECK(s.increment == -1);
  CHECK(s.start == 3);
  CHECK(s.min == 1);
  s = good(R"({"name": "countdown", "descending": true, "increment": 7})");
  CHECK(s.increment == -7);
  CHECK(s.start == k_largest);
  CHECK(good(R"({"name": "c", "descending": true, "min": 5, "max": 10, "start": 8})").start == 8);
  CHECK(good(R"({"name": "c", "min": 5, "max": 10})").start == 5);
  // The widest range, and the largest step it allows.
  s = good(R"({"name": "wide", "min": 1, "max": 9223372036854775807, "increment": 9223372036854775806})");
  CHECK(s.increment == 9223372036854775806);
}

TEST_CASE("create spec: what is not JSON, or not an object, is refused") {
  for (auto const* text : {"", " ", "{", "}", "{\"name\": \"t\"", "{\"name\": \"t\"} x", "{'name': 't'}", "name=t",
                           "{\"name\": \"t\",}", "\xff\xfe{}"}) {
    CHECK(refused(text).contains("the sequence description is not valid JSON"));
  }
  for (auto const* text : {"[]", "[{\"name\": \"t\"}]", "\"t\"", "5", "null", "true"}) {
    CHECK(refused(text).contains("the sequence description must be a JSON object"));
  }
}

TEST_CASE("create spec: the name is required and follows the rule of sequence names") {
  CHECK(refused("{}").contains("name is required"));
  CHECK(refused(R"({"start": 5})").contains("name is required"));
  CHECK(refused(R"({"name": null})").contains("name must be a string"));
  CHECK(refused(R"({"name": 5})").contains("name must be a string"));
  CHECK(refused(R"({"name": ["t"]})").contains("name must be a string"));
  CHECK(refused(R"({"name": ""})").contains("empty sequence name"));
  std::string const longest(48, 'z');
  CHECK(good(R"({"name": ")" + longest + "\"}").name == longest);
  CHECK(refused(R"({"name": ")" + longest + "z\"}").contains("is 49 characters long"));
  for (auto const* name : {"Tickets", "1tickets", "_t", "-t", "t.t", "t t", "t/t", "\\u00e9t\\u00e9", "t\\u0000",
                           "t\\nt", "caf\xc3\xa9"}) {
    CAPTURE(name);
    CHECK(refused(std::string(R"({"name": ")") + name + "\"}").contains("a name is 1 to 48 characters of a-z"));
  }
  // A name far too long is quoted in part: the message stays short.
  auto const long_message = refused(R"({"name": ")" + std::string(100000, 'a') + "\"}");
  CHECK(long_message.size() < 400);
}

TEST_CASE("create spec: numbers are whole, from 1 to 2^63-1") {
  for (auto const* key : {"start", "min", "max", "increment"}) {
    CAPTURE(key);
    auto const with = [&](std::string const& value) {
      return std::string(R"({"name": "t", ")") + key + "\": " + value + "}";
    };
    for (auto const* value : {"0", "-1", "-9223372036854775808", "9223372036854775808", "18446744073709551615", "1e30",
                              "1.5", "2.0", "\"5\"", "null", "true", "[1]"}) {
      CAPTURE(value);
      CHECK(refused(with(value)).contains(std::string(key) + " must be a whole number from 1 to 9223372036854775807"));
    }
  }
}

TEST_CASE("create spec: the range, the step and the start must fit together") {
  CHECK(refused(R"({"name": "t", "min": 10, "max": 10})").contains("min (10) must be below max (10)"));
  CHECK(refused(R"({"name": "t", "min": 11, "max": 10})").contains("min (11) must be below max (10)"));
  CHECK(refused(R"({"name": "t", "min": 9223372036854775807})").contains("must be below max"));
  CHECK(
      refused(R"({"name": "t", "max": 10, "increment": 10})").contains("increment (10) must be at most max - min (9)"));
  CHECK(good(R"({"name": "t", "max": 10, "increment": 9})").increment == 9);
  CHECK(refused(R"({"name": "t", "min": 5, "max": 10, "start": 4})")
            .contains("start (4) must lie within min (5) and max (10)"));
  CHECK(refused(R"({"name": "t", "min": 5, "max": 10, "start": 11})").contains("must lie within"));
  CHECK(refused(R"({"name": "t", "descending": true, "max": 10, "start": 11})").contains("must lie within"));
  CHECK(good(R"({"name": "t", "min": 5, "max": 10, "start": 10})").start == 10);
}

TEST_CASE("create spec: booleans, mode and description are checked") {
  for (auto const* key : {"descending", "cycle"}) {
    for (auto const* value : {"1", "0", "\"true\"", "null", "\"yes\""}) {
      CHECK(refused(std::string(R"({"name": "t", ")") + key + "\": " + value + "}")
                .contains(std::string(key) + " must be true or false"));
    }
  }
  for (auto const* value : {"\"fast\"", "\"Strict\"", "\"\"", "1", "true"}) {
    CHECK(refused(std::string(R"({"name": "t", "mode": )") + value + "}")
              .contains("mode must be \"strict\" or \"block\""));
  }

  // One line of text up to 200 bytes; UTF-8 is text.
  CHECK(good(R"({"name": "t", "description": "Rechnungsnummern f\u00fcr 2024 \u2013 \u7968"})").description ==
        "Rechnungsnummern für 2024 – 票");
  CHECK(good(R"({"name": "t", "description": ""})").description.empty());
  std::string const longest(200, 'd');
  CHECK(good(R"({"name": "t", "description": ")" + longest + "\"}").description == longest);
  CHECK(
      refused(R"({"name": "t", "description": ")" + longest + "d\"}").contains("description is longer than 200 bytes"));
  // 100 two-byte characters fit; one more does not.
  std::string umlauts;
  for (int i = 0; i < 100; ++i) umlauts += "\xc3\xbc";
  CHECK(good(R"({"name": "t", "description": ")" + umlauts + "\"}").description == umlauts);
  CHECK(refused(R"({"name": "t", "description": ")" + umlauts + "\xc3\xbc\"}").contains("longer than 200 bytes"));
  for (auto const* text : {"two\\nlines", "a\\rb", "tab\\there", "nul\\u0000", "del\\u007f", "esc\\u001b[31m"}) {
    CAPTURE(text);
    CHECK(refused(std::string(R"({"name": "t", "description": ")") + text + "\"}")
              .contains("description must be one line of text"));
  }
  CHECK(refused(R"({"name": "t", "description": 5})").contains("description must be a string"));
  CHECK(refused(R"({"name": "t", "description": null})").contains("description must be a string"));
}

TEST_CASE("create spec: an unknown field is named, with the fields there are") {
  auto const message = refused(R"({"name": "t", "colour": "red"})");
  CHECK(message.contains("unknown field \"colour\""));
  CHECK(
      message.contains("the fields are name, start, min, max, increment, descending, cycle, mode, description, format, "
                       "period, timezone and check"));
  CHECK(refused(R"({"name": "t", "Name": "t"})").contains("unknown field \"Name\""));
  CHECK(refused(R"({"name": "t", "": 1})").contains("unknown field \"\""));
  CHECK(refused(R"({"name": "t", "time_zone": "UTC"})").contains("unknown field \"time_zone\""));
  // An untrusted key is quoted safely.
  CHECK(refused(R"({"name": "t", "a\"b\nc": 1})").contains(R"(unknown field "a\"b\nc")"));
}

TEST_CASE("reset body: empty, {} or {\"to\": V}") {
  CHECK(pez::parse_reset_body("").value() == std::nullopt);
  CHECK(pez::parse_reset_body(" \t\r\n").value() == std::nullopt);
  CHECK(pez::parse_reset_body("{}").value() == std::nullopt);
  CHECK(pez::parse_reset_body(R"({"to": null})").value() == std::nullopt);
  CHECK(pez::parse_reset_body(R"({"to": 1})").value() == 1);
  CHECK(pez::parse_reset_body(R"({"to": 9223372036854775807})").value() == k_largest);
  CHECK(pez::parse_reset_body("x").error().contains("the reset request is not valid JSON"));
  CHECK(pez::parse_reset_body("[]").error().contains("the reset request must be a JSON object"));
  CHECK(pez::parse_reset_body(R"({"to": 0})").error().contains("to must be a whole number"));
  CHECK(pez::parse_reset_body(R"({"to": 1, "by": 2})").error().contains("unknown field \"by\"; the only field is to"));
}
