// SPDX-License-Identifier: Apache-2.0
// LogThrottle: a few lines per period, and the count of those left out said once.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "daemon/log_throttle.hpp"

using pez::daemon::LogThrottle;

TEST_CASE("log throttle: at most the lines of a period, then how many were left out") {
  LogThrottle throttle(2, std::chrono::milliseconds(200));
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 0);
  CHECK(throttle.allow());
  CHECK_FALSE(throttle.allow());
  CHECK_FALSE(throttle.allow());
  CHECK_FALSE(throttle.allow());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 3);
  CHECK(throttle.left_out_text() == " (3 more like this were not logged)");
  CHECK(throttle.allow());
  CHECK(throttle.left_out() == 0);
  CHECK(throttle.left_out_text().empty());
  CHECK_FALSE(throttle.allow());
}

TEST_CASE("log throttle: one line per period by default") {
  LogThrottle throttle;
  CHECK(throttle.allow());
  CHECK_FALSE(throttle.allow());
}
