// SPDX-License-Identifier: Apache-2.0
// Sequence administration (pez admin, the socket's LIST/INSPECT/CREATE/RESET/DROP, HTTP
// /admin/): each command is one short exchange with the database on a free connection, on the
// core thread, through the Store (store.hpp). Who may ask is checked by the listeners, before a
// command gets here.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "daemon/admin/admin_command.hpp"
#include "daemon/alloc/store.hpp"

namespace pez::daemon {

class Allocator;

class Admin {
 public:
  Admin(CoreClock& clock, Store& store, Allocator& allocator, std::chrono::milliseconds timeout, bool block_default);
  Admin(Admin const&) = delete;
  Admin& operator=(Admin const&) = delete;

  // Answers handler exactly once, possibly before returning.
  void run(AdminCommand command, AdminHandler handler);
  // Commands waiting for a connection or running.
  std::size_t pending() const { return m_queue.size() + m_running; }
  // A connection is free: admin commands are rare and short, so they go first. Creates waiting
  // together (a pipeline of them) are given to the store together (Store::create_many): one
  // statement, one commit.
  void pump();

 private:
  struct Job {
    AdminCommand command;
    AdminHandler handler;
    // Until when it may wait for a connection (admin_timeout); a read back waits anew.
    Clock::time_point deadline;
    // After a create or reset: the sequence is read back and answered with this status. A read
    // back that fails or waits too long is answered saying the change was done all the same.
    std::optional<unsigned> read_back;
    std::int64_t generation = 0;
  };
  void start(Job job);
  void start_creates(std::vector<Job> jobs);
  void describe(Job job);
  // Answers a change that failed or a drop, or readies the job to be read back: then true.
  bool changed(Job& job, ChangeResult result);
  // A create not yet sent, which may join others.
  bool waiting_create(Job const& job) const;
  void finish(Job& job, AdminResult result);
  // Answers job with error, which stopped it; after a change, saying the change was done.
  void failed(Job& job, Error error);
  void arm_sweep();
  void sweep();

  CoreClock& m_clock;
  Store& m_store;
  Allocator& m_allocator;
  std::chrono::milliseconds m_timeout;
  bool m_block_default;
  std::deque<Job> m_queue;
  std::size_t m_running = 0;
  bool m_creating = false;  // a create's statement is running
  std::unique_ptr<CoreTimer> m_sweep;
  // A create is sent once the requests read with it are handled, so that the creates among them
  // go together.
  std::unique_ptr<CoreTimer> m_pump_soon;
};

}  // namespace pez::daemon
