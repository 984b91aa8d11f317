// SPDX-License-Identifier: Apache-2.0
// Which event loop thread a new HTTP connection goes to.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace pez::daemon {

// How many more connections than the thread with the fewest a thread may have and still be
// given the connections of its CPU.
constexpr std::size_t k_pick_slack = 2;

// The thread for a connection whose packets arrive on incoming_cpu (SO_INCOMING_CPU; none when
// unknown), given the connections each thread has open: the thread of that CPU (the CPU's number
// modulo the threads), so that a client's connections, which arrive on the CPU it runs on or the
// one its network queue is served on, meet one thread rather than all of them; unless that
// thread has more than k_pick_slack connections beyond the thread with the fewest (the CPU says
// nothing useful when every connection arrives on one), or the CPU is unknown: then the thread
// with the fewest, the first such after the one picked last (turn, kept by the caller).
inline std::size_t pick_thread(std::optional<unsigned> incoming_cpu, std::span<std::size_t const> open,
                               std::size_t& turn) {
  std::size_t const n = open.size();
  if (n <= 1) return 0;
  std::size_t fewest = open[0];
  for (auto const count : open) fewest = count < fewest ? count : fewest;
  if (incoming_cpu) {
    std::size_t const own = *incoming_cpu % n;
    if (open[own] <= fewest + k_pick_slack) return own;
  }
  for (std::size_t i = 1; i <= n; ++i) {
    std::size_t const candidate = (turn + i) % n;
    if (open[candidate] == fewest) {
      turn = candidate;
      return candidate;
    }
  }
  return 0;  // not reached: some thread has the fewest
}

}  // namespace pez::daemon
