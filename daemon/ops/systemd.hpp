// SPDX-License-Identifier: Apache-2.0
// pezd's side of the systemd service protocol: readiness, reload, stop and watchdog notices
// (sd_notify) and the Unix socket pezd.socket passes (sd_listen_fds). Outside systemd, without
// NOTIFY_SOCKET and LISTEN_FDS, every call here does nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pez::daemon::systemd {

// Whether a service manager listens for notices (NOTIFY_SOCKET is set).
bool notifying();

// Sends one notice, such as "READY=1" or "STATUS=...". Errors are ignored: a manager that went
// away cannot be told anything.
void notify(std::string_view state);

// "RELOADING=1" with the monotonic time systemd wants beside it.
void notify_reloading();

// How often systemd wants WATCHDOG=1, if it wants it at all (WatchdogSec=).
std::optional<std::chrono::microseconds> watchdog_interval();

// The listening Unix stream socket passed by socket activation (LISTEN_FDS), or none. Anything
// else passed is an error saying what was wrong with the socket unit.
std::expected<std::optional<int>, std::string> passed_unix_socket();

// Keeps systemd informed from a timer on the core event loop: READY=1 once ready() first says
// so, STATUS= whenever status() changes, and WATCHDOG=1 on every tick, so that a stuck loop
// stops feeding the watchdog and systemd restarts pezd. Does nothing unless notifying().
class Notifier {
 public:
  Notifier(boost::asio::io_context& io, std::function<bool()> ready, std::function<std::string()> status);
  void start();
  // Around SIGHUP.
  void reloading();
  void reloaded();
  // On SIGTERM: STOPPING=1, and EXTEND_TIMEOUT_USEC=longest, so that the unit's TimeoutStopSec
  // does not cut short a drain that may last longer; the watchdog is fed on while pezd drains.
  void stopping(std::string const& why, std::chrono::microseconds longest);

 private:
  void tick();
  void arm();

  boost::asio::steady_timer m_timer;
  std::function<bool()> m_ready;
  std::function<std::string()> m_status;
  std::optional<std::chrono::microseconds> m_watchdog;
  std::string m_last_status;
  bool m_active = false;
  bool m_told_ready = false;
  bool m_stopping = false;
};

}  // namespace pez::daemon::systemd
