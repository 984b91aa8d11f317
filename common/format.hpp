// The bodies that carry numbers: v1 (one bare number and a newline), v2 (a JSON list), and the
// JSON error object. These are the original PEZ service's formats; clients depend on them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pez {

void append_decimal(std::string& out, std::int64_t value);

// How the numbers of an answer are written: bare JSON numbers (the default, the original
// service's), or JSON strings (?as=string), which JavaScript's JSON.parse reads without rounding
// the numbers above 2^53.
enum class NumberForm { number, string };

// "71\n", or "\"71\"\n" as strings
void append_v1_body(std::string& out, std::int64_t value, NumberForm form = NumberForm::number);

// "[30011, 30012, 30013]\n", or "[\"30011\", \"30012\", \"30013\"]\n" as strings
void append_v2_body(std::string& out, std::span<std::int64_t const> values, NumberForm form = NumberForm::number);

// {"error": "message"}\n
std::string error_body(std::string_view message);

}  // namespace pez
