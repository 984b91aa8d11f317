// SPDX-License-Identifier: Apache-2.0
// The standard descriptors 0, 1 and 2: a program started with one of them closed would hand that
// number to the next file or socket it opens, and then write its output or log into it.
#pragma once

#include <array>
#include <expected>
#include <string>
#include <string_view>

namespace pez {

// Opens /dev/null on each of descriptors 0-2 that is closed, and says which were; call it first,
// before anything else opens a descriptor. False if /dev/null cannot be opened.
struct StandardDescriptors {
  std::array<bool, 3> was_closed{};
  bool ok = true;
};
StandardDescriptors ensure_standard_descriptors();

// Writes text to standard output and flushes it. On failure (a full disk, a closed pipe), the
// system's reason, as "No space left on device".
std::expected<void, std::string> write_stdout(std::string_view text);

}  // namespace pez
