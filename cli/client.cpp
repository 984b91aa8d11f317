// SPDX-License-Identifier: Apache-2.0
#include "cli/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/protocol.hpp"
#include "common/settings.hpp"

namespace pez::cli {
namespace {

std::string hint(std::string const& path) {
  return " (start pezd, or point --socket or PEZ_SOCKET at its socket; it is " + path + " now)";
}

// What a path that is there but not a socket is, for the message.
char const* kind_of_file(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a named pipe";
  return "a device";
}

using SteadyClock = std::chrono::steady_clock;

// How long is left until deadline, for poll (at least 0).
int poll_timeout(SteadyClock::time_point deadline) {
  auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
}

Failure too_slow(std::string const& what, std::chrono::milliseconds timeout) {
  return Failure{k_exit_temporary, "pezd did not " + what + " within " + settings::format_duration(timeout) +
                                       "; try again, or raise --timeout"};
}

}  // namespace

Client::~Client() {
  if (m_fd >= 0) ::close(m_fd);
}

std::expected<void, Failure> Client::connect() {
  sockaddr_un addr{};
  if (m_path.empty()) {
    return std::unexpected(Failure{k_exit_usage, std::string("the socket path is empty; give --socket the path of "
                                                             "pezd's socket, such as ") +
                                                     proto::k_default_socket_path});
  }
  if (m_path.size() >= sizeof addr.sun_path) {
    return std::unexpected(Failure{k_exit_usage, "socket path " + m_path + " is too long (at most " +
                                                     std::to_string(sizeof addr.sun_path - 1) + " bytes)"});
  }
  m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m_fd < 0)
    return std::unexpected(Failure{k_exit_failure, std::string("cannot make a socket: ") + std::strerror(errno)});
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, m_path.c_str(), m_path.size() + 1);
  // A connect to a Unix socket whose backlog is full waits for room, as long as the send timeout
  // allows (a non-blocking one would fail at once, with nothing to poll for).
  timeval const limit{static_cast<time_t>(m_timeout.count() / 1000),
                      static_cast<suseconds_t>(m_timeout.count() % 1000 * 1000)};
  if (::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) != 0) {
    return std::unexpected(
        Failure{k_exit_failure, std::string("cannot set the socket's send timeout: ") + std::strerror(errno)});
  }
  if (::connect(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return {};
  int const err = errno;
  if (err == EAGAIN) return std::unexpected(too_slow("accept the connection", m_timeout));
  struct stat st {};
  if (err != ENOENT && err != EACCES && err != EPERM && ::stat(m_path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
    std::string const what = kind_of_file(st.st_mode);
    return std::unexpected(Failure{k_exit_no_daemon, m_path + " is not a socket but " + what +
                                                         (S_ISDIR(st.st_mode) ? "; pezd's socket may be in it" : "") +
                                                         "; point --socket or PEZ_SOCKET at pezd's socket"});
  }
  switch (err) {
    case ENOENT:
      return std::unexpected(
          Failure{k_exit_no_daemon, "pezd is not running: there is no socket at " + m_path + hint(m_path)});
    case ECONNREFUSED:
      return std::unexpected(
          Failure{k_exit_no_daemon, "pezd is not answering at " + m_path + ": connection refused" + hint(m_path)});
    case EACCES:
    case EPERM:
      return std::unexpected(Failure{k_exit_denied, "permission denied connecting to " + m_path +
                                                        ": ask an administrator to add you to the socket's group "
                                                        "(ls -l " +
                                                        m_path + " shows it)"});
    default:
      return std::unexpected(
          Failure{k_exit_no_daemon, "cannot connect to pezd at " + m_path + ": " + std::strerror(err)});
  }
}

std::expected<void, Failure> Client::send_all(std::string const& data) {
  auto const deadline = SteadyClock::now() + m_timeout;
  std::size_t sent = 0;
  while (sent < data.size()) {
    auto const n = ::send(m_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      return std::unexpected(
          Failure{k_exit_no_daemon, std::string("pezd closed the connection: ") + std::strerror(errno)});
    }
    // pezd reads no more for now: wait for room, until the deadline.
    int const wait = poll_timeout(deadline);
    if (wait == 0) return std::unexpected(too_slow("take the request", m_timeout));
    pollfd pfd{m_fd, POLLOUT, 0};
    if (::poll(&pfd, 1, wait) < 0 && errno != EINTR) {
      return std::unexpected(Failure{k_exit_failure, std::string("waiting for pezd failed: ") + std::strerror(errno)});
    }
  }
  return {};
}

std::expected<std::string, Failure> Client::read_line() {
  auto const deadline = SteadyClock::now() + m_timeout;
  for (;;) {
    if (auto nl = m_buffer.find('\n'); nl != std::string::npos) {
      std::string line = m_buffer.substr(0, nl);
      m_buffer.erase(0, nl + 1);
      return line;
    }
    int const wait = poll_timeout(deadline);
    if (wait == 0) return std::unexpected(too_slow("answer", m_timeout));
    pollfd pfd{m_fd, POLLIN, 0};
    int const ready = ::poll(&pfd, 1, wait);
    if (ready < 0 && errno != EINTR) {
      return std::unexpected(Failure{k_exit_failure, std::string("waiting for pezd failed: ") + std::strerror(errno)});
    }
    if (ready <= 0) continue;
    char chunk[4096];
    auto const n = ::recv(m_fd, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return std::unexpected(
          Failure{k_exit_no_daemon, std::string("reading from pezd failed: ") + std::strerror(errno)});
    }
    if (n == 0) {
      return std::unexpected(
          Failure{k_exit_no_daemon, "pezd closed the connection without answering (is it shutting down?)"});
    }
    m_buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

std::expected<std::vector<std::string>, Failure> Client::exchange(std::vector<std::string> const& lines) {
  if (auto ok = connect(); !ok) return std::unexpected(ok.error());
  std::string out = proto::hello_line();
  for (auto const& line : lines) out += line;
  if (auto ok = send_all(out); !ok) return std::unexpected(ok.error());

  auto hello = read_line();
  if (!hello) return std::unexpected(hello.error());
  if (auto answer = proto::parse_answer(*hello); !answer) return std::unexpected(failure_from(answer.error()));

  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto line = read_line();
    if (!line) return std::unexpected(line.error());
    auto answer = proto::parse_answer(*line);
    if (!answer) return std::unexpected(failure_from(answer.error()));
    payloads.emplace_back(*answer);
  }
  return payloads;
}

}  // namespace pez::cli
