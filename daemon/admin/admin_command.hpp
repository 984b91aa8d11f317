// SPDX-License-Identifier: Apache-2.0
// An administration request as the listeners hand it to Admin (daemon/admin/admin.hpp), and its answer.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "common/errors.hpp"

namespace pez::daemon {

struct AdminCommand {
  enum class Op { list, inspect, create, reset, drop };
  Op op = Op::list;
  std::string name;                // inspect, reset, drop
  std::optional<std::int64_t> to;  // reset
  std::string spec;                // create: the JSON of common/admin.hpp
};

struct AdminAnswer {
  unsigned http_status = 200;  // 201 for create
  std::string json;            // one line
};
using AdminResult = std::expected<AdminAnswer, Error>;
using AdminHandler = std::move_only_function<void(AdminResult)>;

}  // namespace pez::daemon
