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
  // A connection is free: admin commands are rare and short, so they go first.
  void pump();

 private:
  struct Job {
    AdminCommand command;
    AdminHandler handler;
    Clock::time_point deadline;
    // After a create or reset: the sequence is read back and answered with this status. The
    // change is done, so this part does not expire.
    std::optional<unsigned> read_back;
    std::int64_t generation = 0;
  };
  void start(Job job);
  void describe(Job job);
  void changed(Job job, ChangeResult result);
  void finish(Job& job, AdminResult result);
  void arm_sweep();
  void sweep();

  CoreClock& m_clock;
  Store& m_store;
  Allocator& m_allocator;
  std::chrono::milliseconds m_timeout;
  bool m_block_default;
  std::deque<Job> m_queue;
  std::size_t m_running = 0;
  std::unique_ptr<CoreTimer> m_sweep;
};

}  // namespace pez::daemon
