// Sequence administration (pez admin, the socket's LIST/INSPECT/CREATE/RESET/DROP, HTTP
// /admin/): each command is one short exchange with the database on a free connection, on the
// core thread. Who may ask is checked by the listeners, before a command gets here.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/errors.hpp"
#include "daemon/admin_command.hpp"
#include "daemon/pg_connection.hpp"

namespace pez::daemon {

class Allocator;
class Database;

class Admin {
 public:
  using Clock = std::chrono::steady_clock;

  Admin(boost::asio::io_context& io, Database& db, Allocator& allocator, std::chrono::milliseconds timeout,
        bool block_default);
  ~Admin();
  Admin(Admin const&) = delete;
  Admin& operator=(Admin const&) = delete;

  // Answers handler exactly once, possibly before returning.
  void run(AdminCommand command, AdminHandler handler);
  std::size_t pending() const { return m_queue.size(); }

 private:
  struct Job {
    AdminCommand command;
    AdminHandler handler;
    Clock::time_point deadline;
  };
  void pump();
  void start(std::shared_ptr<Job> job, std::shared_ptr<PgConnection> conn);
  void describe(std::shared_ptr<Job> job, std::shared_ptr<PgConnection> conn, unsigned status);
  void finish(std::shared_ptr<Job> const& job, std::shared_ptr<PgConnection> const& conn, DbError const* failure,
              AdminResult result);
  void arm_sweep();

  Database& m_db;
  Allocator& m_allocator;
  std::chrono::milliseconds m_timeout;
  bool m_block_default;
  std::deque<Job> m_queue;
  boost::asio::steady_timer m_sweep;
  bool m_sweep_armed = false;
};

}  // namespace pez::daemon
