// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "common/names.hpp"

using pez::check_sequence_name;

TEST_CASE("names: valid ones") {
  for (std::string good :
       {std::string("forward"), std::string("reverse"), std::string("a"), std::string("invoice-2024"),
        std::string("job_numbers"), std::string("z9"), std::string(48, 'a')}) {
    CAPTURE(good);
    CHECK(check_sequence_name(good).has_value());
  }
}

TEST_CASE("names: hostile and malformed ones are refused, and the message is one safe line") {
  for (std::string bad : {std::string(""), std::string("Forward"), std::string("9lives"), std::string("-x"),
                          std::string("_x"), std::string("a b"), std::string("a;drop table x"), std::string("a\"b"),
                          std::string("a'b"), std::string("../etc"), std::string("a\nb"), std::string(49, 'a'),
                          std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    CAPTURE(bad);
    auto result = check_sequence_name(bad);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().find('\n') == std::string::npos);
    CHECK(result.error().find("a-z") != std::string::npos);
  }
}

namespace {

// Every string of up to two bytes, and some of every length around the limit.
template <typename Probe>
void for_each_probe(Probe probe) {
  probe("");
  for (int a = 0; a < 256; ++a) {
    probe(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) probe(std::string{static_cast<char>(a), static_cast<char>(b)});
  }
  for (std::size_t length = pez::k_max_name_length - 2; length <= pez::k_max_name_length + 2; ++length) {
    for (char const last : {'a', '9', '_', '-', 'A', '.', '\n'}) probe(std::string(length - 1, 'x') + last);
    probe(std::string(length, '-'));
  }
}

}  // namespace

TEST_CASE("names: the rule's pattern accepts exactly the names check_sequence_name accepts") {
  std::regex const pattern{std::string(pez::k_sequence_name_pattern)};
  for_each_probe([&](std::string const& name) {
    CAPTURE(name);
    CHECK(std::regex_match(name, pattern) == check_sequence_name(name).has_value());
  });
  CHECK(pez::k_sequence_name_pattern.find("{0," + std::to_string(pez::k_max_name_length - 1) + "}") !=
        std::string_view::npos);
  // The open form SQL checks faster, with the length apart: the same names.
  std::regex const open{std::string(pez::k_sequence_name_open_pattern)};
  CHECK(pez::k_max_name_length_text == std::to_string(pez::k_max_name_length));
  for_each_probe([&](std::string const& name) {
    CAPTURE(name);
    CHECK((std::regex_match(name, open) && name.size() <= pez::k_max_name_length) ==
          check_sequence_name(name).has_value());
  });
  CHECK(std::string_view(PEZ_SEQUENCE_NAME_SQL("n")) ==
        "(n ~ '" + std::string(pez::k_sequence_name_open_pattern) + "' AND length(n) <= 48)");
  // The messages say the rule in its words.
  CHECK(check_sequence_name("").error().ends_with(pez::k_sequence_name_rule));
  CHECK(check_sequence_name("A").error().ends_with(pez::k_sequence_name_rule));
}

TEST_CASE("names: the rule's copies elsewhere in the tree are the one pattern") {
  // The schema's migrations are history (each stays as it was applied) and repeat the pattern:
  // every copy must be this one, or the open one followed by the length's bound. (The C++ that
  // needs it as SQL text or a regex uses PEZ_SEQUENCE_NAME_PATTERN, k_sequence_name_pattern or
  // PEZ_SEQUENCE_NAME_SQL.)
  namespace fs = std::filesystem;
  fs::path const root = PEZ_SOURCE_DIR;
  std::vector<fs::path> files;
  for (auto const& entry : fs::directory_iterator(root / "sql")) {
    if (entry.path().extension() == ".sql") files.push_back(entry.path());
  }
  std::regex const copy{R"(\^\[a-z\][^'"]*\$)"};  // '^[a-z]...$' in SQL, "^[a-z]...$" in C++
  int copies = 0;
  for (auto const& file : files) {
    std::ifstream in(file);
    REQUIRE(in.is_open());
    std::string const text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    for (auto it = std::sregex_iterator(text.begin(), text.end(), copy); it != std::sregex_iterator(); ++it) {
      CAPTURE(file.string());
      CAPTURE(it->str());
      if (it->str() == pez::k_sequence_name_open_pattern) {
        // '^[a-z][a-z0-9_-]*$' AND length(x) <= 48, the bound in the same condition.
        std::string const rest = it->suffix().str().substr(0, 80);
        std::smatch bound;
        CHECK(std::regex_search(rest, bound, std::regex{R"(^' AND length\([a-z._:]+\) <= (\d+))"}));
        if (!bound.empty()) CHECK(bound[1].str() == std::to_string(pez::k_max_name_length));
      } else {
        CHECK(it->str() == pez::k_sequence_name_pattern);
      }
      ++copies;
    }
  }
  CHECK(copies > 0);
}
