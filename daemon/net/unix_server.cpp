// SPDX-License-Identifier: Apache-2.0
#include "daemon/net/unix_server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/read_until.hpp>
#include <expected>

#include "common/protocol.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/api/check.hpp"
#include "daemon/api/socket_router.hpp"
#include "daemon/config/config.hpp"
#include "daemon/context.hpp"
#include "daemon/net/accept_loop.hpp"
#include "daemon/net/client_session.hpp"
#include "daemon/net/socket_file.hpp"
#include "daemon/net/socket_peer.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

constexpr std::size_t k_socket_read_size = 4096;

class UnixSession final : public ClientSession<stream::socket> {
 public:
  UnixSession(stream::socket socket, Context& ctx)
      : ClientSession(std::move(socket), ctx, "socket"),
        m_rights(SocketPeer::of_socket(m_socket.native_handle(), ctx.config.admin_gid)) {
    m_peer = m_rights.describe();
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
    m_in.resize(k_socket_read_size);
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
    if (!m_closed && m_in.empty() && !m_slots.empty() && !m_slots.back().ready) {
      // The answer waits for the core: a client that sends nothing ahead (pez, one line at a
      // time) sends its next line once it has this answer, so a read started now would find
      // nothing. Reading goes on once the answer is written.
      m_read_paused = true;
      return;
    }
    wait_for_line();
  }

  // Answers every complete line already read, up to the pipeline limit.
  void handle_buffered() {
    std::size_t start = 0;
    while (!m_closed && (!pipeline_full() || creates_may_join())) {
      auto const nl = m_in.find('\n', start);
      if (nl == std::string::npos) break;
      if (nl - start >= m_ctx.config.line_limit) {
        refuse_long_line();
        start = m_in.size();
        break;
      }
      if (m_ctx.draining()) {
        answer_error(Errc::unavailable, "pezd is shutting down; try again in a moment", true);
        start = m_in.size();
        break;
      }
      auto const line = std::string_view(m_in).substr(start, nl - start);
      Route route = route_socket(line, m_ctx.config.max_count, m_rights);
      auto const* admin = std::get_if<AdminCommand>(&route.what);
      bool const create = admin != nullptr && admin->op == AdminCommand::Op::create;
      if (m_barrier) {
        // Only a create joins the creates before it; anything else waits for their answers.
        if (!create) {
          m_creates = false;
          break;
        }
      } else if (admin != nullptr) {
        // Admin requests run alone: after every earlier answer, before any later request; but
        // creates in a row run together (Admin gives them to the database in one statement).
        m_barrier = true;
        if (!m_slots.empty()) break;
        m_creates = create;
      }
      start = nl + 1;
      if (route.close_after && proto::has_control_bytes(line)) {
        spdlog::debug("socket {}: closing after a line with control bytes", m_peer);
      }
      push_slot().close_after = route.close_after;
      dispatch(route);
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

  // A Reply of route_socket holds the answer line, OK or ERR.
  void answer(Slot& slot, Reply const& reply) override {
    std::optional<Errc> error;
    if (auto read = proto::parse_answer(std::string_view(reply.body).substr(0, reply.body.find('\n'))); !read) {
      error = read.error().code;
    }
    if (error == Errc::denied) {
      spdlog::warn("socket {}: refused an admin request: not root, not pezd's user, not in admin_group", m_peer);
    }
    slot.text += reply.body;
    finish(slot, error, false);
  }

  void answer_failure(Slot& slot, Error const& error) override {
    proto::append_error(slot.text, error.code, error.message);
    finish(slot, error.code, false);
  }

  // STATUS: the page is its JSON.
  void answer_page(Slot& slot, Reply const& page) override {
    proto::append_ok(slot.text, page.body);
    finish(slot, std::nullopt, false);
  }

  void answer_admin(Slot& slot, AdminResult result) override {
    if (!result) {
      answer_failure(slot, result.error());
      return;
    }
    proto::append_ok(slot.text, result->json);
    finish(slot, std::nullopt, false);
  }

  void answer_numbers(Slot& slot, int api, NumberForm /*form*/, AllocateResult numbers) override {
    if (numbers) {
      if (auto problem = printing_problem(numbers->printing, numbers->values)) {
        numbers = std::unexpected(Error{Errc::internal, "the numbers taken cannot be printed: " + *problem});
      }
    }
    if (!numbers) {
      answer_failure(slot, numbers.error());
      return;
    }
    auto const& printing = numbers->printing;
    if (api == 2) {  // NEXT ... json
      std::string body;
      if (printing.format) {
        append_v2_body(body, numbers->values, printing);
      } else {
        append_v2_body(body, numbers->values);
      }
      body.pop_back();  // its newline: the answer's line ends it
      proto::append_ok(slot.text, body);
    } else if (printing.format) {
      proto::append_ok_numbers(slot.text, numbers->values, printing);
    } else {
      proto::append_ok_numbers(slot.text, numbers->values);
    }
    finish(slot, std::nullopt, false);
  }

  void answer_check(Slot& slot, CheckValue const& check, AllocateResult found) override {
    auto verdict =
        found ? check_value(check.name, found->printing.format.get(), check.value) : std::unexpected(found.error());
    if (!verdict) {
      answer_failure(slot, verdict.error());
      return;
    }
    proto::append_ok(slot.text, verdict->valid ? "valid" : "invalid: " + verdict->reason);
    finish(slot, std::nullopt, false);
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
  SocketPeer m_rights;
};

}  // namespace

UnixListener::UnixListener(asio::io_context& io, Context& ctx)
    : m_io(io), m_ctx(ctx), m_acceptor(io), m_pause(io), m_accept{m_pause, "socket", ctx.metrics} {}

UnixListener::~UnixListener() { stop(); }

std::expected<void, std::string> UnixListener::open(std::string const& path, std::string const& group) {
  auto file = make_socket_file(m_acceptor, path, group);
  if (!file) return std::unexpected(file.error());
  m_file = std::move(*file);
  return {};
}

std::expected<std::string, std::string> UnixListener::adopt(int fd) { return adopt_socket(m_acceptor, fd); }

void UnixListener::start() { accept(); }

void UnixListener::stop() {
  boost::system::error_code ec;
  if (m_acceptor.is_open()) m_acceptor.close(ec);
  m_pause.cancel();
  remove_socket_file(m_file);
}

void UnixListener::accept() {
  accept_loop(m_acceptor, m_accept,
              [this](stream::socket socket) { std::make_shared<UnixSession>(std::move(socket), m_ctx)->start(); });
}

}  // namespace pez::daemon
