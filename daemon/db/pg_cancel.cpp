// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/pg_cancel.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <system_error>
#include <thread>

namespace pez::daemon {

namespace {

// Cancel requests on their way; each waits on a thread of its own, so a few at a time.
constexpr int k_most_cancels = 8;
std::atomic<int>& cancels_running() {
  static std::atomic<int> running{0};
  return running;
}

}  // namespace

bool cancel_and_finish(PGconn* conn) {
  auto& running = cancels_running();
  if (running.fetch_add(1) >= k_most_cancels) {
    running.fetch_sub(1);
    spdlog::debug("closing a database connection without cancelling its statement: {} cancels on their way",
                  k_most_cancels);
    return false;
  }
  PGcancel* cancel = PQgetCancel(conn);
  if (cancel == nullptr) {
    running.fetch_sub(1);
    return false;
  }
  PQsetNoticeReceiver(
      conn, [](void*, PGresult const*) {}, nullptr);
  try {
    // Nothing but libpq in the thread: it may still run while the process exits. A cancel that
    // fails changes nothing (the statement ends when it next reads or writes its connection).
    std::thread([cancel, conn, &running] {
      std::array<char, 256> why{};
      PQcancel(cancel, why.data(), static_cast<int>(why.size()));
      PQfreeCancel(cancel);
      PQfinish(conn);
      running.fetch_sub(1);
    }).detach();
  } catch (std::system_error const& e) {
    PQfreeCancel(cancel);
    PQfinish(conn);
    running.fetch_sub(1);
    spdlog::debug("closing a database connection without cancelling its statement: {}", e.what());
  }
  return true;
}

}  // namespace pez::daemon
