// SPDX-License-Identifier: Apache-2.0
// pick_thread: a new HTTP connection goes to the thread of the CPU it arrives on, within a bound
// of balance.
#include <doctest/doctest.h>

#include <cstddef>
#include <optional>
#include <vector>

#include "daemon/net/thread_pick.hpp"

using pez::daemon::k_pick_slack;
using pez::daemon::pick_thread;

namespace {

// Gives connections arriving on the CPUs listed, in order, to threads, counting each thread's
// connections as the listener does; returns the counts.
std::vector<std::size_t> give(std::size_t threads, std::vector<std::optional<unsigned>> const& cpus,
                              std::vector<std::size_t>* picked = nullptr) {
  std::vector<std::size_t> open(threads, 0);
  std::size_t turn = 0;
  for (auto const cpu : cpus) {
    auto const t = pick_thread(cpu, open, turn);
    REQUIRE(t < threads);
    ++open[t];
    if (picked != nullptr) picked->push_back(t);
  }
  return open;
}

}  // namespace

TEST_CASE("one thread takes every connection") {
  std::vector<std::size_t> const open{7};
  std::size_t turn = 0;
  CHECK(pick_thread(3U, open, turn) == 0);
  CHECK(pick_thread(std::nullopt, open, turn) == 0);
}

TEST_CASE("connections go to the thread of the CPU they arrive on") {
  // Two clients on two CPUs, their connections interleaved: each client meets one thread.
  std::vector<std::size_t> picked;
  auto const open = give(2, {0U, 1U, 1U, 0U, 0U, 1U, 0U, 1U}, &picked);
  CHECK(picked == std::vector<std::size_t>{0, 1, 1, 0, 0, 1, 0, 1});
  CHECK(open == std::vector<std::size_t>{4, 4});
  // More CPUs than threads: CPU modulo threads.
  std::vector<std::size_t> more;
  give(2, {2U, 3U, 5U, 4U}, &more);
  CHECK(more == std::vector<std::size_t>{0, 1, 1, 0});
}

TEST_CASE("a thread gets its CPU's connections only while within the slack of the fewest") {
  // Every connection arriving on one CPU: the CPU says nothing, the threads stay balanced.
  std::vector<std::optional<unsigned>> const one_cpu(64, 0U);
  auto const open = give(2, one_cpu);
  CHECK(open[0] + open[1] == 64);
  CHECK(open[0] <= open[1] + k_pick_slack + 1);
  CHECK(open[1] <= open[0] + k_pick_slack + 1);
  // The same with four threads.
  auto const four = give(4, one_cpu);
  for (auto const n : four) CHECK(n >= 64 / 4 - k_pick_slack - 1);
  // A burst from one CPU within the slack stays on its thread.
  std::vector<std::size_t> picked;
  give(2, {1U, 1U, 1U}, &picked);
  CHECK(picked == std::vector<std::size_t>{1, 1, 1});
  std::vector<std::size_t> const past{5, 2};  // thread 0 is 3 beyond thread 1
  std::size_t turn = 0;
  CHECK(pick_thread(0U, past, turn) == 1);
}

TEST_CASE("with the CPU unknown, the thread with the fewest, in turn among equals") {
  std::vector<std::size_t> picked;
  auto const open = give(3, std::vector<std::optional<unsigned>>(6, std::nullopt), &picked);
  CHECK(picked == std::vector<std::size_t>{1, 2, 0, 1, 2, 0});
  CHECK(open == std::vector<std::size_t>{2, 2, 2});
  std::vector<std::size_t> const uneven{3, 1, 2};
  std::size_t turn = 0;
  CHECK(pick_thread(std::nullopt, uneven, turn) == 1);
  CHECK(turn == 1);
}
