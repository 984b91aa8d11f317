// SPDX-License-Identifier: Apache-2.0
// The schema migrations of sql/, built into pezd: version, file name and text of each.
#pragma once

#include <span>
#include <string_view>

namespace pez::daemon {

struct Migration {
  int version;
  std::string_view file;
  std::string_view sql;
};

// In ascending version order.
std::span<Migration const> migrations();

}  // namespace pez::daemon
