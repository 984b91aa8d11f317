// SPDX-License-Identifier: Apache-2.0
// The entry point every fuzz target defines, as libFuzzer calls it (and tests/fuzz/replay.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size);
