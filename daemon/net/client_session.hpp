// SPDX-License-Identifier: Apache-2.0
// What an HTTP session and a socket session share: the queue of answers kept in request order
// (pipelining), carrying out a request's Route (router.hpp), one write for every answer that is
// ready, a read and a write deadline (and a time to rest) served by one timer, draining and
// closing. The derived session frames and routes requests, and writes each kind of answer into
// its slot.
#pragma once

#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "daemon/alloc/allocator.hpp"
#include "daemon/api/router.hpp"
#include "daemon/config/config.hpp"
#include "daemon/context.hpp"
#include "daemon/net/error_log.hpp"
#include "daemon/ops/log_throttle.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

template <typename Socket>
class ClientSession : public Session, public std::enable_shared_from_this<ClientSession<Socket>> {
 public:
  using Clock = std::chrono::steady_clock;

  void drain() override {
    m_draining = true;
    if (m_slots.empty() && !m_writing) close();
  }

  void close() override {
    if (m_closed) return;
    m_closed = true;
    update_idle();
    boost::system::error_code ec;
    m_socket.shutdown(Socket::shutdown_both, ec);
    m_socket.close(ec);
    m_timer.cancel();
    m_ctx.sessions.remove(m_id);
  }

 protected:
  static constexpr auto k_never = Clock::time_point::max();

  // One answer, in request order. HTTP uses the last three fields.
  struct Slot {
    std::string text;
    bool ready = false;
    bool close_after = false;
    Clock::time_point started;
    bool head = false;
    unsigned version = 11;
    bool keep_alive = true;
    std::uint64_t number = 0;  // of the request on its connection, for its id
  };

  ClientSession(Socket socket, Context& ctx, char const* transport)
      : m_socket(std::move(socket)), m_ctx(ctx), m_timer(m_socket.get_executor()), m_transport(transport) {
    static std::atomic<std::uint64_t> connections{0};
    m_id_prefix = transport[0] + std::to_string(connections.fetch_add(1) + 1) + "-";
  }

  // "h12-3": the third request of HTTP connection 12 (pezd(8), LOGGING).
  std::string request_id(Slot const& slot) const { return m_id_prefix + std::to_string(slot.number); }

  // An error answer, logged with the peer and the request's id.
  void log_error(Slot const& slot, spdlog::level::level_enum level, std::string_view what) const {
    ErrorLog::answer(level, m_transport, m_peer, request_id(slot), what);
  }

  void register_session() { m_id = m_ctx.sessions.add(this->weak_from_this()); }

  // Whether this new connection may stay (setting max_connections): an idle one is closed to
  // make room for it if need be (Sessions::make_room); when none is idle, it must be refused,
  // with refusal_message().
  bool admitted() {
    thread_local LogThrottle evicted_log;
    thread_local LogThrottle refused_log;
    auto const room = m_ctx.sessions.make_room();
    if (room == Sessions::Room::none) {
      m_ctx.metrics.connection_dropped(Metrics::Dropped::refused);
      if (refused_log.allow()) {
        spdlog::warn("{} {}: refused: {} connections are open (setting max_connections is {}) and none is idle{}",
                     m_transport, m_peer, m_ctx.shared.open_sessions.load(), m_ctx.shared.max_connections,
                     refused_log.left_out_text());
      }
      return false;
    }
    if (room == Sessions::Room::made) {
      m_ctx.metrics.connection_dropped(Metrics::Dropped::evicted);
      if (evicted_log.allow()) {
        spdlog::warn(
            "{}: {} connections are open (setting max_connections is {}): closed an idle one to make "
            "room for {}{}",
            m_transport, m_ctx.shared.open_sessions.load() + 1, m_ctx.shared.max_connections, m_peer,
            evicted_log.left_out_text());
      }
    }
    return true;
  }

  std::string refusal_message() const {
    return "pezd has as many connections open as it may (setting max_connections is " +
           std::to_string(m_ctx.shared.max_connections) + ") and none is idle; try again in a moment";
  }

  // The session waits for the first byte of a request (a read with nothing buffered).
  void set_waiting(bool waiting) {
    m_waiting = waiting;
    update_idle();
  }

  template <typename Derived>
  std::shared_ptr<Derived> self_as() {
    return std::static_pointer_cast<Derived>(this->shared_from_this());
  }

  // Reading more requests, after the pipeline had no room.
  virtual void resume_reading() = 0;

  bool pipeline_full() const { return m_barrier || m_slots.size() >= m_ctx.config.pipeline_limit; }
  // Under the barrier of creates in a row, more creates already read may join them
  // (unix_server.cpp; no more is read under a barrier).
  bool creates_may_join() const { return m_barrier && m_creates && m_slots.size() < m_ctx.config.pipeline_limit; }

  Slot& push_slot() {
    m_used = true;
    m_slots.emplace_back();
    Slot& slot = m_slots.back();
    if (!m_spare.empty()) {
      slot.text = std::move(m_spare.back());
      m_spare.pop_back();
      slot.text.clear();
    }
    slot.started = Clock::now();
    slot.number = ++m_requests;
    return slot;
  }

  // The id the next answer will be found by, once it is pushed.
  std::uint64_t last_slot_id() const { return m_first_id + m_slots.size() - 1; }

  // The slot of an answer given later, or null when the session closed meanwhile.
  Slot* slot_by_id(std::uint64_t id) {
    if (m_closed || id < m_first_id || id - m_first_id >= m_slots.size()) return nullptr;
    return &m_slots[id - m_first_id];
  }

  // close_after: close once this answer is written, even if later ones were asked for. A
  // draining session closes on its own once every answer is written.
  void slot_ready(Slot& slot, bool close_after) {
    slot.ready = true;
    slot.close_after = slot.close_after || close_after;
    write_next();
  }

  // Carries out route, a request's, whose answer goes into the last slot pushed: at once, or
  // once the core has answered, through the answer functions below.
  void dispatch(Route& route) {
    auto* reply = std::get_if<Reply>(&route.what);
    if (reply != nullptr && route.if_sequence.empty()) {
      answer(m_slots.back(), *reply);
      return;
    }
    std::uint64_t const id = last_slot_id();
    auto self = this->shared_from_this();
    if (reply != nullptr) {
      // Whether the sequence exists is the catalog's to say: a count of 0 asks it, takes nothing.
      m_ctx.allocate(route.if_sequence, 0, [self, id, kept = std::move(*reply)](AllocateResult found) {
        Slot* later = self->slot_by_id(id);
        if (later == nullptr) return;
        if (!found) {
          self->answer_failure(*later, self->classified(found.error()));
          return;
        }
        self->answer(*later, kept);
      });
    } else if (auto* command = std::get_if<AdminCommand>(&route.what)) {
      m_ctx.admin(std::move(*command), [self, id](AdminResult result) {
        if (Slot* later = self->slot_by_id(id)) self->answer_admin(*later, std::move(result));
      });
    } else if (auto* check = std::get_if<CheckValue>(&route.what)) {
      // A count of 0 takes nothing: it says whether the sequence exists, and its format.
      std::string const name = check->name;
      m_ctx.allocate(name, 0, [self, id, check = std::move(*check)](AllocateResult found) {
        Slot* later = self->slot_by_id(id);
        if (later == nullptr) return;
        if (!found) found = std::unexpected(self->classified(found.error()));
        self->answer_check(*later, check, std::move(found));
      });
    } else if (auto* page = std::get_if<OpsPage>(&route.what)) {
      m_ctx.ops_page(*page, [self, id](Reply const& page_reply) {
        if (Slot* later = self->slot_by_id(id)) self->answer_page(*later, page_reply);
      });
    } else {
      auto& take = std::get<TakeNumbers>(route.what);
      auto const count = route.head ? 0 : take.count;
      m_ctx.allocate(take.name, count, [self, id, api = take.api, form = take.form](AllocateResult numbers) {
        Slot* later = self->slot_by_id(id);
        if (later == nullptr) return;
        if (!numbers) numbers = std::unexpected(self->classified(numbers.error()));
        self->answer_numbers(*later, api, form, std::move(numbers));
      });
    }
  }

  // The answers to each kind of Route, written into its slot. A failure is one the database
  // reported, already classified (Shared::classified).
  virtual void answer(Slot& slot, Reply const& reply) = 0;
  virtual void answer_failure(Slot& slot, Error const& error) = 0;
  virtual void answer_admin(Slot& slot, AdminResult result) = 0;
  virtual void answer_check(Slot& slot, CheckValue const& check, AllocateResult found) = 0;
  virtual void answer_numbers(Slot& slot, int api, NumberForm form, AllocateResult numbers) = 0;
  virtual void answer_page(Slot& slot, Reply const& page) { answer(slot, page); }

  // The client will send no more: close once everything is answered.
  void peer_done() {
    m_peer_done = true;
    m_read_deadline = k_never;
    if (m_slots.empty() && !m_writing) close();
  }

  bool reading_allowed() const { return !m_closed && !m_draining && !m_peer_done; }
  bool writing() const { return m_writing; }

  void set_read_deadline(std::chrono::milliseconds timeout) {
    m_read_deadline = Clock::now() + timeout;
    arm_timer();
  }
  // Both at once, for a session waiting for its next request: one reading of the clock.
  void set_read_and_rest_deadlines(std::chrono::milliseconds timeout, Clock::duration rest_after) {
    auto const now = Clock::now();
    m_read_deadline = now + timeout;
    m_rest_at = now + rest_after;
    arm_timer();
  }
  void clear_read_deadline() { m_read_deadline = k_never; }

  // When rest() is called: a session that has had no request for a while may give back what it
  // keeps ready for the next one.
  void set_rest_deadline(Clock::time_point at) {
    m_rest_at = at;
    arm_timer();
  }
  void clear_rest_deadline() { m_rest_at = k_never; }
  virtual void rest() {}

  Socket m_socket;
  Context& m_ctx;
  std::string m_peer;
  std::deque<Slot> m_slots;
  bool m_read_paused = false;
  // No request is read until every answer before now is written (admin requests run alone).
  bool m_barrier = false;
  // The barrier is that of creates in a row, and the next create may join them.
  bool m_creates = false;
  bool m_draining = false;
  bool m_closed = false;

 private:
  // Sends every answer that is ready, in order, in one write.
  void write_next() {
    if (m_closed || m_writing) return;
    m_out.clear();
    m_out_slots = 0;
    for (auto const& slot : m_slots) {
      if (!slot.ready) break;
      m_out += slot.text;
      ++m_out_slots;
      if (slot.close_after) break;
    }
    if (m_out_slots == 0) return;
    m_writing = true;
    update_idle();
    m_write_deadline = Clock::now() + m_ctx.config.header_timeout;
    arm_timer();
    boost::asio::async_write(
        m_socket, boost::asio::buffer(m_out),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_written(ec); });
  }

  void on_written(boost::system::error_code ec) {
    m_writing = false;
    m_write_deadline = k_never;
    if (m_closed) return;
    if (ec) {
      spdlog::debug("{} {}: write failed: {}", m_transport, m_peer, ec.message());
      close();
      return;
    }
    bool close_now = false;
    for (std::size_t i = 0; i < m_out_slots; ++i) {
      close_now = close_now || m_slots.front().close_after;
      m_spare.push_back(std::move(m_slots.front().text));
      m_slots.pop_front();
      ++m_first_id;
    }
    if (close_now) {
      close();
      return;
    }
    update_idle();
    if (m_barrier && m_slots.empty()) {
      // Everything before the barrier is answered: requests read but held back go on now.
      m_barrier = false;
      m_creates = false;
      m_read_paused = false;
      resume_reading();
      if (m_closed) return;
    }
    if (m_slots.empty() && (m_peer_done || m_draining)) {
      close();
      return;
    }
    write_next();
    if (m_read_paused && !pipeline_full()) {
      m_read_paused = false;
      resume_reading();
    }
  }

  // Only the core may read the database's state to classify an error; the other threads pass
  // it on as it is.
  Error classified(Error error) const { return m_ctx.core ? m_ctx.shared.classified(std::move(error)) : error; }

  // Idle: waiting for a request with nothing to answer, the first to close when room is needed.
  void update_idle() {
    bool const idle = m_waiting && m_slots.empty() && !m_writing && !m_closed;
    if (idle != this->Session::idle()) m_ctx.sessions.set_idle(*this, this->weak_from_this(), idle);
  }

  // One timer serves both deadlines; moving a deadline later costs nothing until it fires.
  void arm_timer() {
    auto const next = std::min({m_read_deadline, m_write_deadline, m_rest_at});
    if (next == k_never || (m_timer_armed && m_timer_at <= next)) return;
    m_timer_armed = true;
    m_timer_at = next;
    m_timer.expires_at(next);
    m_timer.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec == boost::asio::error::operation_aborted) return;
      self->m_timer_armed = false;
      self->on_timer();
    });
  }

  void on_timer() {
    if (m_closed) return;
    auto const now = Clock::now();
    if (m_read_deadline <= now || m_write_deadline <= now) {
      spdlog::debug(
          "{} {}: closing: {}", m_transport, m_peer,
          m_write_deadline <= now ? "the client did not read its answers in time" : "no complete request in time");
      close();
      return;
    }
    if (m_rest_at <= now) {
      m_rest_at = k_never;
      rest();
      if (m_closed) return;
    }
    arm_timer();
  }

  boost::asio::steady_timer m_timer;
  char const* m_transport;
  std::string m_id_prefix;
  std::uint64_t m_requests = 0;
  std::uint64_t m_id = 0;
  std::vector<std::string> m_spare;  // buffers of answers already written, reused
  std::string m_out;
  std::size_t m_out_slots = 0;
  std::uint64_t m_first_id = 0;  // id of m_slots.front()
  Clock::time_point m_read_deadline = k_never;
  Clock::time_point m_write_deadline = k_never;
  Clock::time_point m_rest_at = k_never;
  Clock::time_point m_timer_at = k_never;
  bool m_timer_armed = false;
  bool m_writing = false;
  bool m_peer_done = false;
  bool m_waiting = false;
};

}  // namespace pez::daemon
