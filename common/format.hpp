// The bodies that carry numbers: v1 (one bare number and a newline), v2 (a JSON list), and the
// JSON error object. These are the original PEZ service's formats; clients depend on them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pez {

void append_decimal(std::string& out, std::int64_t value);

// "71\n"
void append_v1_body(std::string& out, std::int64_t value);

// "[30011, 30012, 30013]\n"
void append_v2_body(std::string& out, std::span<std::int64_t const> values);

// {"error": "message"}\n
std::string error_body(std::string_view message);

}  // namespace pez
