// SPDX-License-Identifier: Apache-2.0
// LogThrottle: a few lines per period, and the count of those left out said once. The tests move
// a clock of their own by hand: no test waits, and none depends on how fast the machine is.
#include <doctest/doctest.h>

#include <chrono>

#include "daemon/ops/log_throttle.hpp"

using pez::daemon::LogThrottle;
using namespace std::chrono_literals;

namespace {

// A clock that stands still until a test moves it; it starts far from the steady clock's epoch.
struct ManualClock {
  LogThrottle::Clock::time_point now = LogThrottle::Clock::time_point{} + 1000h;

  LogThrottle::Now source() {
    return [this] { return now; };
  }
};

}  // namespace

TEST_CASE("log throttle: at most the lines of a period, then how many were left out") {
  ManualClock clock;
  LogThrottle throttle(2, 200ms, clock.source());
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 0);
  CHECK(throttle.left_out_text().empty());
  CHECK(throttle.allow());
  CHECK_FALSE(throttle.allow());
  CHECK_FALSE(throttle.allow());
  clock.now += 199ms;
  CHECK_FALSE(throttle.allow());
  clock.now += 1ms;  // the period ends exactly now: a new one begins
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 3);
  CHECK(throttle.left_out_text() == " (3 more like this were not logged)");
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 0);  // said once, by the first line of the period
  CHECK(throttle.left_out_text().empty());
  CHECK_FALSE(throttle.allow());
  CHECK(throttle.left_out() == 0);
}

TEST_CASE("log throttle: one line per period by default, on the steady clock") {
  LogThrottle throttle;  // 10 seconds: this test never reaches the end of the period
  CHECK(throttle.allow());
  CHECK_FALSE(throttle.allow());
}

TEST_CASE("log throttle: the next line at the end of the period, not a nanosecond before") {
  ManualClock clock;
  LogThrottle throttle(1, 10s, clock.source());
  CHECK(throttle.allow());
  CHECK_FALSE(throttle.allow());
  clock.now += 10s - 1ns;
  CHECK_FALSE(throttle.allow());
  clock.now += 1ns;
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 2);
  CHECK_FALSE(throttle.allow());
}

TEST_CASE("log throttle: a period that left nothing out says nothing") {
  ManualClock clock;
  LogThrottle throttle(3, 1s, clock.source());
  CHECK(throttle.allow());
  CHECK(throttle.allow());
  clock.now += 1s;
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 0);
  CHECK(throttle.left_out_text().empty());
}

TEST_CASE("log throttle: what was left out is said by the next line logged, however late") {
  ManualClock clock;
  LogThrottle throttle(1, 1s, clock.source());
  CHECK(throttle.allow());
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(throttle.allow());
  clock.now += 1h;
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 1000);
  CHECK(throttle.left_out_text() == " (1000 more like this were not logged)");
  // The new period began at that line, not where the old one would have ended.
  clock.now += 999ms;
  CHECK_FALSE(throttle.allow());
  clock.now += 1ms;
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 1);
}
