// SPDX-License-Identifier: Apache-2.0
#include "daemon/net/http_session.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <ctime>
#include <deque>
#include <optional>
#include <utility>

#include "common/errors.hpp"
#include "common/format.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/api/check_route.hpp"
#include "daemon/api/http_request.hpp"
#include "daemon/api/router.hpp"
#include "daemon/config/config.hpp"
#include "daemon/context.hpp"
#include "daemon/net/client_session.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The read after a wait for a connection at rest, and the read kept ready on a busy one: 512
// bytes, four times more each time a read fills it (a client sending requests ahead), up to 16
// KiB, and 512 again once the connection has rested.
constexpr std::size_t k_http_read_size = 4096;
constexpr std::size_t k_busy_read_size = 512;
constexpr std::size_t k_busy_read_most = 16384;
// How long a connection keeps a read ready after its last request.
constexpr std::chrono::seconds k_rest_after{1};
// Requests parsed and handled one within another when their bytes are already read.
constexpr int k_parsed_in_a_row_most = 8;

class HttpSession final : public ClientSession<tcp::socket> {
 public:
  HttpSession(tcp::socket socket, Context& ctx)
      : ClientSession(std::move(socket), ctx, "http"), m_open_on_thread(ctx.http_open) {
    boost::system::error_code ec;
    auto const peer = m_socket.remote_endpoint(ec);
    m_peer = ec ? std::string("unknown peer") : peer.address().to_string() + ":" + std::to_string(peer.port());
  }
  HttpSession(HttpSession const&) = delete;
  HttpSession& operator=(HttpSession const&) = delete;
  HttpSession(HttpSession&&) = delete;
  HttpSession& operator=(HttpSession&&) = delete;
  // Counted by the listener when it gave the connection to this thread.
  ~HttpSession() override { m_open_on_thread->fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    register_session();
    m_ctx.metrics.client_connection(Metrics::Transport::http);
    if (!admitted()) {
      refuse(error_reply({Errc::unavailable, refusal_message()}));
      return;
    }
    // The read after a wait for input must not block (wait_at_rest).
    boost::system::error_code ec;
    m_socket.non_blocking(true, ec);
    if (ec) {
      spdlog::debug("http {}: closing: {}", m_peer, ec.message());
      close();
      return;
    }
    wait_for_request();
  }

 private:
  auto self() { return self_as<HttpSession>(); }

  void resume_reading() override {
    if (m_held) {
      // Every answer before the held admin request is written: it runs now, alone.
      Held held = std::move(*m_held);
      m_held.reset();
      m_barrier = true;
      handle(std::move(held.route), held.keep_alive);
      if (!held.keep_alive) {
        peer_done();
        return;
      }
    }
    wait_for_request();
  }

  // Waits for the first bytes of the next request under the idle timeout; the request itself
  // then has header_timeout to arrive whole. A connection that asked within the last second
  // (k_rest_after) keeps a read of m_read_size bytes waiting: its next request costs no
  // system call but the read. After that it rests (rest()): it holds no read buffer (with
  // 10,000 such connections, 40 MB less) and waits for input, then reads what arrived.
  void wait_for_request() {
    if (!reading_allowed() || m_busy_read) return;
    if (pipeline_full()) {
      m_read_paused = true;
      return;
    }
    if (m_buffer.size() > 0) {
      read_request();
      return;
    }
    set_read_and_rest_deadlines(m_ctx.config.idle_timeout, k_rest_after);
    set_waiting(true);
    m_busy_read = true;
    m_socket.async_read_some(m_buffer.prepare(m_read_size),
                             [self = self()](boost::system::error_code ec, std::size_t n) {
                               self->m_busy_read = false;
                               self->clear_rest_deadline();
                               if (self->m_closed) return;
                               if (std::exchange(self->m_to_rest, false) && ec == asio::error::operation_aborted) {
                                 self->wait_at_rest();
                                 return;
                               }
                               if (!ec && n == self->m_read_size)
                                 self->m_read_size = std::min(self->m_read_size * 4, k_busy_read_most);
                               self->set_waiting(false);
                               self->on_first_bytes(ec, n);
                             });
  }

  // A second without a request: the waiting read is let go of, and its buffer with it.
  void rest() override {
    if (!m_busy_read) return;
    if (writing()) {
      // Answers still go out (a cancel would stop them too): rest later.
      set_rest_deadline(Clock::now() + k_rest_after);
      return;
    }
    m_to_rest = true;
    boost::system::error_code ec;
    m_socket.cancel(ec);  // the read ends with operation_aborted unless input came first
  }

  void wait_at_rest() {
    if (!reading_allowed()) {
      set_waiting(false);
      return;
    }
    if (m_buffer.capacity() > 0) spdlog::debug("http {}: at rest", m_peer);
    m_buffer.shrink_to_fit();
    m_read_size = k_busy_read_size;
    m_socket.async_wait(tcp::socket::wait_read, [self = self()](boost::system::error_code ec) {
      if (self->m_closed) return;
      std::size_t n = 0;
      if (!ec) n = self->m_socket.read_some(self->m_buffer.prepare(k_http_read_size), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        self->wait_at_rest();  // woken for nothing
        return;
      }
      self->set_waiting(false);
      self->on_first_bytes(ec, n);
    });
  }

  void on_first_bytes(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      if (ec != asio::error::eof) {
        spdlog::debug("http {}: closing: {}", m_peer, ec.message());
        close();
      } else {
        peer_done();
      }
      return;
    }
    m_buffer.commit(n);
    read_request();
  }

  void read_request() {
    m_parser.emplace(m_request);
    m_parser->header_limit(static_cast<std::uint32_t>(m_ctx.config.header_limit));
    m_parser->body_limit(m_ctx.config.body_limit);
    m_parser->eager(true);  // as http::async_read has it: the body too, as far as it is buffered
    if (m_buffer.size() > 0 && m_parsed_in_a_row < k_parsed_in_a_row_most) {
      // Most requests arrive whole in one read: parsed here, as the read would, without its
      // round through the event loop. A request still incomplete is read on from where its
      // parse stopped. After a few requests handled in one go (a client sending requests
      // ahead), the next goes through the event loop, so that the stack does not grow.
      boost::system::error_code ec;
      m_buffer.consume(m_parser->put(m_buffer.data(), ec));
      if (ec != http::error::need_more && (ec || m_parser->is_done())) {
        ++m_parsed_in_a_row;
        on_read(ec);
        --m_parsed_in_a_row;
        return;
      }
    }
    set_read_deadline(m_ctx.config.header_timeout);
    http::async_read(m_socket, m_buffer, *m_parser,
                     [self = self()](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(boost::system::error_code ec) {
    clear_read_deadline();
    if (m_closed) return;
    if (ec == http::error::end_of_stream) {
      peer_done();
      return;
    }
    if (ec) {
      if (auto reply = unreadable_reply(ec, m_ctx.config.header_limit, m_ctx.config.body_limit)) {
        refuse(*reply);
      } else {
        spdlog::debug("http {}: closing: {}", m_peer, ec.message());
        close();
      }
      return;
    }
    bool const keep_alive = m_parser->keep_alive();
    Route route = route_http(m_request, m_ctx.config.max_count, m_ctx.config.admin_token);
    if (std::holds_alternative<AdminCommand>(route.what) && !m_ctx.draining()) {
      // Admin requests run alone: after every earlier answer is written, and no later request
      // is read before the admin answer is (m_barrier), as on the socket.
      m_barrier = true;
      if (!m_slots.empty()) {
        m_held.emplace(Held{std::move(route), keep_alive});
        return;
      }
    }
    handle(std::move(route), keep_alive);
    if (keep_alive && m_buffer.size() == 0 && !m_slots.empty() && !m_slots.back().ready) {
      // The answer waits for the core (strict mode, a block on its way): a client that sends
      // nothing ahead sends its next request once it has this answer, so the read that would
      // start now finds nothing (a system call for each request, in strict mode every one).
      // Reading goes on once the answer is written; a client's requests sent ahead are in the
      // buffer, or read then.
      m_read_paused = true;
    } else if (keep_alive) {
      wait_for_request();
    } else {
      peer_done();
    }
  }

  // A request that cannot be read gets one answer and the connection is closed (the answer is
  // logged as every answer is, with its request id).
  void refuse(Reply const& reply) {
    Slot& slot = push_http_slot(11, false, false);
    fill(slot, reply);
    peer_done();
  }

  Slot& push_http_slot(unsigned version, bool keep_alive, bool head) {
    Slot& slot = push_slot();
    slot.version = version;
    slot.keep_alive = keep_alive && !m_draining;
    slot.head = head;
    return slot;
  }

  void handle(Route route, bool keep_alive) {
    Slot& slot = push_http_slot(m_request.version, keep_alive, route.head);
    if (m_ctx.draining()) {
      fill(slot, error_reply({Errc::unavailable, "pezd is shutting down; try again in a moment"}));
      return;
    }
    if (std::holds_alternative<AdminCommand>(route.what)) {
      spdlog::info("http {}: admin {} {}", m_peer, m_request.method, m_request.target);
    }
    dispatch(route);
  }

  void answer(Slot& slot, Reply const& reply) override { fill(slot, reply); }

  void answer_failure(Slot& slot, Error const& error) override { fill(slot, failure_reply(error)); }

  void answer_admin(Slot& slot, AdminResult result) override {
    if (!result) {
      slot.head = false;
      fill(slot, failure_reply(result.error()));
      return;
    }
    fill(slot, Reply{result->http_status, result->json + "\n"});
  }

  void answer_check(Slot& slot, CheckValue const& check, AllocateResult found) override {
    fill(slot, check_reply(check, found));
  }

  void answer_numbers(Slot& slot, int api, NumberForm form, AllocateResult numbers) override {
    if (!numbers) {
      fill(slot, failure_reply(numbers.error()));
      return;
    }
    auto const& values = numbers->values;
    auto const& printing = numbers->printing;
    if (auto problem = printing_problem(printing, values)) {
      fill(slot, failure_reply(Error{Errc::internal, "the numbers taken cannot be printed: " + *problem}));
      return;
    }
    m_reply.status = 200;
    m_reply.body.clear();
    if (!slot.head) {
      if (printing.format && api == 1) {
        append_v1_body(m_reply.body, values.front(), printing);
      } else if (printing.format) {
        append_v2_body(m_reply.body, values, printing);
      } else if (api == 1) {
        append_v1_body(m_reply.body, values.front(), form);
      } else {
        append_v2_body(m_reply.body, values, form);
      }
    }
    // HEAD of a number path says only whether GET would work: no numbers are taken for it, so
    // the length of a GET answer is not known.
    fill(slot, m_reply, /*known_length=*/!slot.head);
  }

  void fill(Slot& slot, Reply const& reply, bool known_length = true) {
    // While draining, the answer to the last request read says the connection ends; those
    // before it keep theirs (a client drops whatever follows a Connection: close).
    bool const close_after = !slot.keep_alive || (m_draining && &slot == &m_slots.back());
    // Error answers carry the request's id, which the log line about them carries too.
    std::string id;
    if (reply.status >= 400) {
      id = request_id(slot);
      log_error(slot,
                reply.quiet           ? spdlog::level::debug
                : reply.status == 500 ? spdlog::level::err
                : reply.status >= 500 ? spdlog::level::warn
                                      : spdlog::level::info,
                log_text(reply));
    }
    append_response(slot.text, slot.version, !close_after, slot.head, reply, known_length, id);
    m_ctx.metrics.http_request(reply.status, Clock::now() - slot.started);
    slot_ready(slot, close_after);
  }

  // An admin request read while earlier answers were not all written; m_request still holds it
  // (nothing more is read until it has run).
  struct Held {
    Route route;
    bool keep_alive = true;
  };

  beast::flat_buffer m_buffer;
  RequestHead m_request;
  std::shared_ptr<std::atomic<std::size_t>> m_open_on_thread;  // Context::http_open
  std::optional<Held> m_held;
  std::optional<RequestParser> m_parser;
  Reply m_reply;                               // reused for number answers
  std::size_t m_read_size = k_busy_read_size;  // of the read kept waiting
  bool m_busy_read = false;                    // a read waits for the next request (wait_for_request)
  bool m_to_rest = false;                      // and was cancelled to rest (rest())
  int m_parsed_in_a_row = 0;                   // requests being handled within read_request
};

}  // namespace

void start_http_session(tcp::socket socket, Context& context) {
  std::make_shared<HttpSession>(std::move(socket), context)->start();
}

}  // namespace pez::daemon
