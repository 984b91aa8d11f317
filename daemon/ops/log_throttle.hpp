// SPDX-License-Identifier: Apache-2.0
// Keeps a message that a flood can cause (error answers, connections refused, accepts failing)
// to a few log lines per period, and says how many were left out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace pez::daemon {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  // Where the time comes from: the steady clock, or a clock a test moves by hand.
  using Now = std::function<Clock::time_point()>;

  explicit LogThrottle(int lines = 1, Clock::duration period = std::chrono::seconds(10), Now now = Clock::now)
      : m_lines(lines), m_period(period), m_now(std::move(now)) {}

  // True when this occurrence should be logged. The first one logged in a new period may say
  // how many were not, with left_out().
  bool allow() {
    auto const now = m_now();
    if (now >= m_period_end) {
      m_period_end = now + m_period;
      m_left_out = m_pending;
      m_pending = 0;
      m_logged = 0;
    } else if (m_logged == 1) {
      m_left_out = 0;  // said once, by the first line of the period
    }
    if (m_logged >= m_lines) {
      ++m_pending;
      return false;
    }
    ++m_logged;
    return true;
  }

  // How many occurrences the last period left out (0 but for the first line of a period).
  std::uint64_t left_out() const { return m_left_out; }

  // " (N more like this were not logged)", or nothing.
  std::string left_out_text() const {
    if (m_left_out == 0) return {};
    return " (" + std::to_string(m_left_out) + " more like this were not logged)";
  }

 private:
  int m_lines;
  Clock::duration m_period;
  Now m_now;
  Clock::time_point m_period_end{};
  int m_logged = 0;
  std::uint64_t m_pending = 0;
  std::uint64_t m_left_out = 0;
};

}  // namespace pez::daemon
