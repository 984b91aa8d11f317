// SPDX-License-Identifier: Apache-2.0
#include "daemon/ops/systemd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/protocol.hpp"

namespace pez::daemon::systemd {

bool notifying() {
  char const* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

void notify(std::string_view state) {
  if (!notifying()) return;
  std::string const text(state);
  sd_notify(0, text.c_str());
}

void notify_reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  auto const usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

std::expected<std::optional<int>, std::string> passed_unix_socket() {
  // Unsets LISTEN_FDS and LISTEN_PID, so that nothing pezd starts believes it was passed them.
  int const count = sd_listen_fds(1);
  if (count < 0) {
    return std::unexpected("cannot read the sockets passed by systemd (LISTEN_FDS): " +
                           std::string(std::strerror(-count)));
  }
  if (count == 0) return std::optional<int>{};
  if (count > 1) {
    return std::unexpected("systemd passed " + std::to_string(count) +
                           " sockets; pezd takes one, the Unix socket (one ListenStream= path in pezd.socket)");
  }
  int const fd = SD_LISTEN_FDS_START;
  if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    return std::unexpected(std::string("the socket systemd passed is not a listening Unix stream socket; "
                                       "ListenStream= in pezd.socket must be a path such as ") +
                           proto::k_default_socket_path);
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return std::optional<int>{fd};
}

Notifier::Notifier(boost::asio::io_context& io, std::function<bool()> ready, std::function<std::string()> status)
    : m_timer(io), m_ready(std::move(ready)), m_status(std::move(status)) {}

void Notifier::start() {
  if (!notifying()) return;
  m_active = true;
  m_watchdog = watchdog_interval();
  if (m_watchdog) {
    spdlog::info("systemd watchdog: pezd reports every {}ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(*m_watchdog / 2).count());
  }
  tick();
}

void Notifier::arm() {
  using namespace std::chrono_literals;
  // Quick until ready, so that systemd hears of it soon; then once a second, or more often
  // when the watchdog wants it.
  std::chrono::microseconds period = m_told_ready ? std::chrono::microseconds(1s) : std::chrono::microseconds(100ms);
  if (m_watchdog) period = std::min(period, std::max<std::chrono::microseconds>(*m_watchdog / 2, 1ms));
  m_timer.expires_after(period);
  m_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void Notifier::tick() {
  if (m_watchdog) notify("WATCHDOG=1");
  if (!m_stopping) {
    // Readiness is asked for only until it comes: asking warms up block reserves.
    bool const ready = m_told_ready || m_ready();
    auto status = m_status();
    if (ready && !m_told_ready) {
      m_told_ready = true;
      m_last_status = status;
      notify("READY=1\nSTATUS=" + status);
      spdlog::info("told systemd pezd is ready");
    } else if (status != m_last_status) {
      m_last_status = status;
      notify("STATUS=" + status);
    }
  }
  arm();
}

void Notifier::reloading() {
  if (!m_active) return;
  notify_reloading();
}

void Notifier::reloaded() {
  if (!m_active) return;
  // A reload before pezd was first ready leaves READY=1 to the timer.
  if (m_told_ready) notify("READY=1\nSTATUS=" + m_last_status);
}

void Notifier::stopping(std::string const& why, std::chrono::microseconds longest) {
  if (!m_active) return;
  m_stopping = true;
  notify("STOPPING=1\nEXTEND_TIMEOUT_USEC=" + std::to_string(longest.count()) + "\nSTATUS=" + why);
}

}  // namespace pez::daemon::systemd
