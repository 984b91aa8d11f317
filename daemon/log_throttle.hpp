// Keeps a message that a flood can cause (connections refused, accepts failing) to one log line
// per period, with how many were left out since the last one.
#pragma once

#include <chrono>
#include <cstdint>

namespace pez::daemon {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(Clock::duration period = std::chrono::seconds(10)) : m_period(period) {}

  // True when this occurrence should be logged; suppressed() then says how many were not.
  bool allow() {
    auto const now = Clock::now();
    if (now < m_next) {
      ++m_pending;
      return false;
    }
    m_next = now + m_period;
    m_suppressed = m_pending;
    m_pending = 0;
    return true;
  }
  std::uint64_t suppressed() const { return m_suppressed; }

 private:
  Clock::duration m_period;
  Clock::time_point m_next{};
  std::uint64_t m_pending = 0;
  std::uint64_t m_suppressed = 0;
};

}  // namespace pez::daemon
