// SPDX-License-Identifier: Apache-2.0
#include "common/json_line.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

using pez::json_line;

TEST_CASE("json_line: one line, with spaces after colons and commas") {
  using json = nlohmann::ordered_json;
  CHECK(json_line(json{{"status", "alive"}}) == R"({"status": "alive"})");
  json status;
  status["version"] = "1.2.3";
  status["uptime_seconds"] = 12;
  status["threads"] = std::size_t{4};
  status["http"] = nullptr;
  status["ready"] = false;
  status["not_ready"] = json{{"code", "unavailable"}, {"message", "the database is unavailable: \"x\"\n"}};
  status["list"] = json::array({1, -2, true});
  status["empty"] = json::object();
  CHECK(json_line(status) ==
        R"({"version": "1.2.3", "uptime_seconds": 12, "threads": 4, "http": null, "ready": false, )"
        R"("not_ready": {"code": "unavailable", "message": "the database is unavailable: \"x\"\n"}, )"
        R"("list": [1, -2, true], "empty": {}})");
  // Strings are escaped as json_string escapes them: control bytes as \u00XX, DEL too.
  CHECK(json_line(json(std::string("a\x01\x7f"))) == R"("a\u0001\u007f")");
}

TEST_CASE("json_line: an unordered object and admin's values are written the same way") {
  nlohmann::json answer{{"name", "invoices"}, {"next", 42}, {"used", 0.25}, {"sequences", nlohmann::json::array()}};
  CHECK(json_line(answer) == R"({"name": "invoices", "next": 42, "sequences": [], "used": 0.25})");
  CHECK(nlohmann::json::parse(json_line(answer)) == answer);
}
