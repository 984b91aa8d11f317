// SPDX-License-Identifier: Apache-2.0
// Error answers in the log: each with the peer and the request's id (as HTTP's X-Request-Id
// gives it to the client), so that a client's report can be found in the journal. Internal
// errors are errors, the database being unavailable a warning, the client's mistakes info. At
// most k_lines_per_second lines a second per thread, so that a flood of bad requests cannot
// flood the journal; the first line of the next second says how many were left out.
#pragma once

#include <spdlog/spdlog.h>
#include <string_view>

#include "daemon/ops/log_throttle.hpp"

namespace pez::daemon {

class ErrorLog {
 public:
  static constexpr int k_lines_per_second = 20;

  static void answer(spdlog::level::level_enum level, std::string_view transport, std::string_view peer,
                     std::string_view request_id, std::string_view what) {
    thread_local LogThrottle throttle(k_lines_per_second, std::chrono::seconds(1));
    if (!throttle.allow()) return;
    spdlog::log(level, "{} {} request {}: {}{}", transport, peer, request_id, what, throttle.left_out_text());
  }
};

}  // namespace pez::daemon
