// Error answers in the log: each with the peer and the request's id (as HTTP's X-Request-Id
// gives it to the client), so that a client's report can be found in the journal. Internal
// errors are errors, the database being unavailable a warning, the client's mistakes info. At most k_lines_per_second lines a second per thread; the rest are counted and
// reported in one line, so that a flood of bad requests cannot flood the journal.
#pragma once

#include <chrono>
#include <cstdint>
#include <spdlog/spdlog.h>
#include <string_view>

namespace pez::daemon {

class ErrorLog {
 public:
  static constexpr int k_lines_per_second = 20;

  static void answer(spdlog::level::level_enum level, std::string_view transport, std::string_view peer,
                     std::string_view request_id, std::string_view what) {
    thread_local State state;
    auto const now = std::chrono::steady_clock::now();
    if (now - state.window >= std::chrono::seconds(1)) {
      if (state.suppressed > 0) {
        spdlog::warn("{} more error answers in the last second were not logged", state.suppressed);
      }
      state = State{now, 0, 0};
    }
    if (state.lines >= k_lines_per_second) {
      ++state.suppressed;
      return;
    }
    ++state.lines;
    spdlog::log(level, "{} {} request {}: {}", transport, peer,
                request_id, what);
  }

 private:
  struct State {
    std::chrono::steady_clock::time_point window{};
    int lines = 0;
    std::uint64_t suppressed = 0;
  };
};

}  // namespace pez::daemon
