// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the files of BlockSource (block_source.cpp, block_fetch.cpp, block_sync.cpp).
// Internal to daemon/.
#pragma once

#include <cstdint>

namespace pez::daemon::block_detail {

std::uint64_t numbers_in(std::int64_t from, std::int64_t to, std::int64_t step);

}  // namespace pez::daemon::block_detail
