// SPDX-License-Identifier: Apache-2.0
// The bodies that carry numbers: v1 (one bare number and a newline), v2 (a JSON list), and the
// JSON error object. These are the original PEZ service's formats; clients depend on them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pez {

namespace number_template {
class NumberTemplate;
}

void append_decimal(std::string& out, std::int64_t value);

// How the numbers of an answer are written: bare JSON numbers (the default, the original
// service's), or JSON strings (?as=string), which JavaScript's JSON.parse reads without rounding
// the numbers above 2^53.
enum class NumberForm { number, string };

// "71\n", or "\"71\"\n" as strings
void append_v1_body(std::string& out, std::int64_t value, NumberForm form = NumberForm::number);

// "[30011, 30012, 30013]\n", or "[\"30011\", \"30012\", \"30013\"]\n" as strings
void append_v2_body(std::string& out, std::span<std::int64_t const> values, NumberForm form = NumberForm::number);

// What the numbers of an answer are printed with: a formatted sequence's template (DESIGN §5) and
// the period they belong to (yyyymmdd of its first day; 0 for a sequence without period). No
// template: bare numbers.
struct Printing {
  std::shared_ptr<number_template::NumberTemplate const> format;
  std::int32_t period = 0;
};

// Why values cannot be printed with printing (a number outside the template's range, a periodic
// template without a period), or nothing when they can. Checked before any of them is printed:
// rendering anyway could print two numbers alike.
std::optional<std::string> printing_problem(Printing const& printing, std::span<std::int64_t const> values);

// value rendered through printing's template (which it must have), without quotes.
void append_rendered(std::string& out, Printing const& printing, std::int64_t value);
// Each of values so rendered, each after a space (the socket's answer).
void append_rendered_words(std::string& out, Printing const& printing, std::span<std::int64_t const> values);

// The bodies of a formatted sequence's answer: always JSON strings, "INV-2026-000042"\n and
// ["INV-2026-000042", "INV-2026-000043"]\n. printing_problem must have found nothing.
void append_v1_body(std::string& out, std::int64_t value, Printing const& printing);
void append_v2_body(std::string& out, std::span<std::int64_t const> values, Printing const& printing);

// {"error": "message"}\n
std::string error_body(std::string_view message);

}  // namespace pez
