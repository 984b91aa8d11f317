// SPDX-License-Identifier: Apache-2.0
// The query of an HTTP request (?count=5&as=string), checked against its operation's parameters
// in the route table; router.cpp acts on what it says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/format.hpp"
#include "daemon/api/route_table.hpp"
#include "daemon/api/router.hpp"

namespace pez::daemon {

// What a request's parameters and body said, once checked.
struct Parsed {
  std::uint32_t count = 1;
  NumberForm form = NumberForm::number;
  std::string value;
  std::optional<std::int64_t> to;
};

// The query of an operation, checked against its parameters in the table; the 400 otherwise.
std::variant<Parsed, Reply> parse_query(Operation const& op, std::string_view path, std::string_view query,
                                        std::string_view name, std::uint32_t max_count);

}  // namespace pez::daemon
