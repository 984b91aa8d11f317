// SPDX-License-Identifier: Apache-2.0
#include "daemon/unix_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <expected>
#include <vector>

#include "common/count.hpp"
#include "common/protocol.hpp"
#include "common/version.hpp"
#include "daemon/accept_loop.hpp"
#include "daemon/allocator.hpp"
#include "daemon/check.hpp"
#include "daemon/client_session.hpp"
#include "daemon/config.hpp"
#include "daemon/context.hpp"
#include "daemon/metrics.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

constexpr std::size_t k_read_size = 4096;

std::string errno_text(int err) { return std::strerror(err); }

// The supplementary groups of the process at the other end of a Unix socket, as they were when
// it connected.
std::expected<std::vector<gid_t>, std::string> peer_groups(int fd) {
  std::vector<gid_t> groups(32);
  // The kernel says how much room it needs; the list cannot grow, so the second try fits.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) return std::unexpected(errno_text(errno));
    groups.resize(std::max<std::size_t>(len / sizeof(gid_t), groups.size() * 2));
  }
  return std::unexpected("the list of groups kept growing");
}

class UnixSession final : public ClientSession<stream::socket> {
 public:
  UnixSession(stream::socket socket, Context& ctx) : ClientSession(std::move(socket), ctx, "socket") {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(m_socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      m_peer = "uid " + std::to_string(cred.uid) + " pid " + std::to_string(cred.pid);
      m_cred = cred;
    } else {
      m_peer = "unknown peer";
    }
  }

  void start() {
    register_session();
    m_ctx.metrics.client_connection(Metrics::Transport::socket);
    if (!admitted()) {
      answer_error(Errc::unavailable, refusal_message(), true);
      return;
    }
    wait_for_line();
  }

 private:
  auto self() { return self_as<UnixSession>(); }

  void resume_reading() override {
    handle_buffered();
    wait_for_line();
  }

  void wait_for_line() {
    if (!reading_allowed()) return;
    if (pipeline_full()) {
      m_read_paused = true;
      return;
    }
    if (!m_in.empty()) {
      read_line();
      return;
    }
    // A read, not a wait: Asio skips the read attempt it knows would find nothing, so an idle
    // connection costs no system call until its next request arrives.
    set_read_deadline(m_ctx.config.idle_timeout);
    m_in.resize(k_read_size);
    set_waiting(true);
    m_socket.async_read_some(asio::buffer(m_in), [self = self()](boost::system::error_code ec, std::size_t n) {
      self->set_waiting(false);
      self->m_in.resize(n);
      if (self->m_closed) return;
      self->on_read(ec);
    });
  }

  void refuse_long_line() {
    answer_error(Errc::too_large,
                 "request line longer than " + std::to_string(m_ctx.config.line_limit) + " bytes (setting line_limit)",
                 true);
  }

  void read_line() {
    if (m_in.size() >= m_ctx.config.line_limit) {
      refuse_long_line();
      return;
    }
    set_read_deadline(m_ctx.config.header_timeout);
    asio::async_read_until(m_socket, asio::dynamic_buffer(m_in, m_ctx.config.line_limit), '\n',
                           [self = self()](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(boost::system::error_code ec) {
    clear_read_deadline();
    if (m_closed) return;
    if (ec == asio::error::not_found) {
      refuse_long_line();
      return;
    }
    if (ec == asio::error::eof) {
      // A last request without its newline is still answered.
      if (!m_in.empty()) {
        m_in += '\n';
        handle_buffered();
      }
      peer_done();
      return;
    }
    if (ec) {
      spdlog::debug("socket {}: closing: {}", m_peer, ec.message());
      close();
      return;
    }
    handle_buffered();
    wait_for_line();
  }

  // Answers every complete line already read, up to the pipeline limit.
  void handle_buffered() {
    std::size_t start = 0;
    while (!m_closed && !pipeline_full()) {
      auto const nl = m_in.find('\n', start);
      if (nl == std::string::npos) break;
      if (nl - start >= m_ctx.config.line_limit) {
        refuse_long_line();
        start = m_in.size();
        break;
      }
      std::string const line = m_in.substr(start, nl - start);
      auto request = proto::parse_request(line, m_ctx.config.max_count);
      if (request && proto::is_admin(*request) && !m_ctx.draining()) {
        // Admin requests run alone: after every earlier answer, before any later request.
        m_barrier = true;
        if (!m_slots.empty()) break;
      }
      start = nl + 1;
      handle_line(line, std::move(request));
      if (!m_slots.empty() && m_slots.back().close_after) {
        start = m_in.size();
        break;
      }
    }
    m_in.erase(0, start);
  }

  void answer_error(Errc code, std::string const& message, bool close_after) {
    Slot& slot = push_slot();
    proto::append_error(slot.text, code, message);
    finish(slot, code, close_after);
  }

  void handle_line(std::string const& line, std::expected<proto::Request, Error> request) {
    if (m_ctx.draining()) {
      answer_error(Errc::unavailable, "pezd is shutting down; try again in a moment", true);
      return;
    }
    if (!request) {
      bool const garbage = proto::has_control_bytes(line);
      if (garbage) spdlog::debug("socket {}: closing after a line with control bytes", m_peer);
      answer_error(request.error().code, request.error().message, garbage);
      return;
    }
    if (proto::is_admin(*request)) {
      handle_admin(*request);
      return;
    }
    if (auto* next = std::get_if<proto::Next>(&*request)) {
      push_slot();
      std::uint64_t const id = last_slot_id();
      m_ctx.allocate(next->name, next->count, [self = self(), id, json = next->json](AllocateResult numbers) {
        self->on_numbers(id, json, std::move(numbers));
      });
      return;
    }
    if (auto* check = std::get_if<proto::Check>(&*request)) {
      push_slot();
      std::uint64_t const id = last_slot_id();
      // A count of 0 takes nothing: it says whether the sequence exists, and its format.
      m_ctx.allocate(check->name, 0,
                     [self = self(), id, name = check->name, value = check->value](AllocateResult found) {
                       self->on_check(id, name, value, std::move(found));
                     });
      return;
    }
    Slot& slot = push_slot();
    bool close_after = false;
    if (std::holds_alternative<proto::Hello>(*request)) {
      proto::append_ok(slot.text, std::to_string(proto::k_version) + " pezd " + k_version);
    } else if (std::holds_alternative<proto::Ping>(*request)) {
      proto::append_ok(slot.text, "pong");
    } else if (std::holds_alternative<proto::Status>(*request)) {
      proto::append_ok(slot.text, m_ctx.status_json());
    } else {
      proto::append_ok(slot.text, "bye");
      close_after = true;
    }
    finish(slot, std::nullopt, close_after);
  }

  // Root, pezd's own user and peers holding admin_group may administer (pezd(8)). The groups
  // are the peer process's own, as the kernel recorded them when it connected: a process that
  // dropped the group is not admin, and one holding it is, whatever the user database says.
  bool may_administer() {
    if (m_admin_checked) return m_admin;
    m_admin_checked = true;
    if (!m_cred) return m_admin = false;
    if (m_cred->uid == 0 || m_cred->uid == ::geteuid()) return m_admin = true;
    auto const& gid = m_ctx.config.admin_gid;
    if (!gid) return m_admin = false;
    if (m_cred->gid == *gid) return m_admin = true;
    auto groups = peer_groups(m_socket.native_handle());
    if (!groups) {
      spdlog::warn(
          "socket {}: cannot read the peer's groups (SO_PEERGROUPS, Linux 4.13 or later): {}; only root "
          "and pezd's own user may administer",
          m_peer, groups.error());
      return m_admin = false;
    }
    return m_admin = std::ranges::find(*groups, *gid) != groups->end();
  }

  void handle_admin(proto::Request const& request) {
    if (!may_administer()) {
      spdlog::warn("socket {}: refused an admin request: not root, not pezd's user, not in admin_group", m_peer);
      answer_error(Errc::denied,
                   "permission denied: only root, pezd's own user and processes in the admin group (setting "
                   "admin_group) may administer sequences; a group you were just added to counts from your next "
                   "login (or newgrp)",
                   false);
      return;
    }
    AdminCommand command;
    using Op = AdminCommand::Op;
    if (std::holds_alternative<proto::List>(request)) {
      command.op = Op::list;
    } else if (auto* inspect = std::get_if<proto::Inspect>(&request)) {
      command = AdminCommand{Op::inspect, inspect->name, {}, {}};
    } else if (auto* create = std::get_if<proto::Create>(&request)) {
      command = AdminCommand{Op::create, {}, {}, create->spec};
    } else if (auto* reset = std::get_if<proto::Reset>(&request)) {
      command = AdminCommand{Op::reset, reset->name, reset->to, {}};
    } else if (auto* drop = std::get_if<proto::Drop>(&request)) {
      command = AdminCommand{Op::drop, drop->name, {}, {}};
    }
    push_slot();
    std::uint64_t const id = last_slot_id();
    m_ctx.admin(std::move(command), [self = self(), id](AdminResult result) {
      Slot* slot = self->slot_by_id(id);
      if (slot == nullptr) return;
      if (!result) {
        proto::append_error(slot->text, result.error().code, result.error().message);
        self->finish(*slot, result.error().code, false);
        return;
      }
      proto::append_ok(slot->text, result->json);
      self->finish(*slot, std::nullopt, false);
    });
  }

  void on_numbers(std::uint64_t id, bool json, AllocateResult numbers) {
    Slot* slot = slot_by_id(id);
    if (slot == nullptr) return;
    if (numbers) {
      if (auto problem = printing_problem(numbers->printing, numbers->values)) {
        numbers = std::unexpected(Error{Errc::internal, "the numbers taken cannot be printed: " + *problem});
      }
    }
    if (!numbers) {
      auto const error = m_ctx.shared.classified(numbers.error());  // the socket is the core's
      proto::append_error(slot->text, error.code, error.message);
      finish(*slot, error.code, false);
      return;
    }
    auto const& printing = numbers->printing;
    if (json) {
      std::string body;
      if (printing.format) {
        append_v2_body(body, numbers->values, printing);
      } else {
        append_v2_body(body, numbers->values);
      }
      body.pop_back();  // its newline: the answer's line ends it
      proto::append_ok(slot->text, body);
    } else if (printing.format) {
      proto::append_ok_numbers(slot->text, numbers->values, printing);
    } else {
      proto::append_ok_numbers(slot->text, numbers->values);
    }
    finish(*slot, std::nullopt, false);
  }

  void on_check(std::uint64_t id, std::string const& name, std::string const& value, AllocateResult found) {
    Slot* slot = slot_by_id(id);
    if (slot == nullptr) return;
    auto verdict = found ? check_value(name, found->printing.format.get(), value)
                         : std::unexpected(m_ctx.shared.classified(found.error()));
    if (!verdict) {
      proto::append_error(slot->text, verdict.error().code, verdict.error().message);
      finish(*slot, verdict.error().code, false);
      return;
    }
    proto::append_ok(slot->text, verdict->valid ? "valid" : "invalid: " + verdict->reason);
    finish(*slot, std::nullopt, false);
  }

  void finish(Slot& slot, std::optional<Errc> error, bool close_after) {
    m_ctx.metrics.socket_request(error, Clock::now() - slot.started);
    if (error) {
      auto answer = std::string_view(slot.text);
      while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.remove_suffix(1);
      log_error(slot,
                *error == Errc::internal                                       ? spdlog::level::err
                : *error == Errc::unavailable || *error == Errc::misconfigured ? spdlog::level::warn
                                                                               : spdlog::level::info,
                answer);
    }
    slot_ready(slot, close_after);
  }

  std::string m_in;
  std::optional<ucred> m_cred;
  bool m_admin_checked = false;
  bool m_admin = false;
};

// Is something answering on this socket file? (A file left by a crashed pezd is not.)
bool someone_listens(std::string const& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool const listening = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return listening;
}

}  // namespace

UnixListener::UnixListener(asio::io_context& io, Context& ctx)
    : m_io(io), m_ctx(ctx), m_acceptor(io), m_pause(io), m_accept{m_pause, "socket", ctx.metrics} {}

UnixListener::~UnixListener() { stop(); }

std::expected<void, std::string> UnixListener::open(std::string const& path, std::string const& group) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return std::unexpected("socket path " + path + " is longer than " +
                           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes; choose a shorter one");
  }
  std::optional<gid_t> gid;
  if (!group.empty()) {
    auto found = group_id(group);
    if (!found) return std::unexpected("invalid value for setting socket_group: " + found.error());
    gid = *found;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return std::unexpected(path + " exists and is not a socket; remove it or set socket to another path");
    }
    if (someone_listens(path)) {
      return std::unexpected("another pezd is already serving " + path +
                             "; stop it first or set socket to another path");
    }
    if (::unlink(path.c_str()) != 0) {
      return std::unexpected("cannot remove the stale socket " + path + ": " + errno_text(errno));
    }
    spdlog::info("removed the stale socket {} (left by a pezd that did not stop cleanly)", path);
  }

  boost::system::error_code ec;
  m_acceptor.open(stream(), ec);
  if (!ec) {
    // Created as 0660 from the start: no moment where others may connect.
    mode_t const old = ::umask(0117);
    m_acceptor.bind(stream::endpoint(path), ec);
    ::umask(old);
  }
  if (ec) {
    return std::unexpected("cannot create socket " + path + ": " + ec.message() +
                           " (does the directory exist and may pezd write to it?)");
  }
  if (::chmod(path.c_str(), 0660) != 0) {
    return std::unexpected("cannot set mode 0660 on socket " + path + ": " + errno_text(errno));
  }
  if (gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
    int const err = errno;
    ::unlink(path.c_str());
    return std::unexpected("cannot give socket " + path + " to group " + group + ": " + errno_text(err) +
                           " (pezd's user must be a member of that group)");
  }
  m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on socket " + path + ": " + ec.message());
  if (::stat(path.c_str(), &st) == 0) m_inode = st.st_ino;
  m_path = path;
  return {};
}

std::expected<std::string, std::string> UnixListener::adopt(int fd) {
  boost::system::error_code ec;
  m_acceptor.assign(stream(), fd, ec);
  if (ec) return std::unexpected("cannot use the socket systemd passed: " + ec.message());
  auto const local = m_acceptor.local_endpoint(ec);
  return ec ? std::string("(unnamed)") : local.path();
}

void UnixListener::start() { accept(); }

void UnixListener::stop() {
  boost::system::error_code ec;
  if (m_acceptor.is_open()) m_acceptor.close(ec);
  m_pause.cancel();
  if (!m_path.empty()) {
    struct stat st {};
    if (::stat(m_path.c_str(), &st) == 0 && st.st_ino == m_inode) ::unlink(m_path.c_str());
    m_path.clear();
  }
}

void UnixListener::accept() {
  accept_loop(m_acceptor, m_accept,
              [this](stream::socket socket) { std::make_shared<UnixSession>(std::move(socket), m_ctx)->start(); });
}

}  // namespace pez::daemon
