// SPDX-License-Identifier: Apache-2.0
// A connection of Database (database.hpp) and what it is doing: shared by database.cpp, which
// opens, sets up and leases connections, and database_checks.cpp, which runs the periodic
// statements on them. Nothing else includes it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/database.hpp"
#include "daemon/pg_connection.hpp"

namespace pez::daemon {

struct Database::Slot {
  explicit Slot(boost::asio::io_context& io, int i) : retry(io), probe_timer(io), index(i) {}
  enum class State { closed, connecting, setting_up, idle, leased, waiting };
  std::shared_ptr<PgConnection> conn;
  State state = State::closed;
  Millis backoff{0};
  boost::asio::steady_timer retry;
  bool listener = false;  // LISTEN and the catalog only, on listen_params
  // The notice probe of the connection: its channel while it runs, the second connection that
  // sends it, and whether the connection heard it.
  std::string probe_channel;
  std::shared_ptr<PgConnection> prober;
  boost::asio::steady_timer probe_timer;
  std::function<void()> after_probe;
  bool hears_notices = false;
  std::uint64_t hearing_since = 0;  // a number of Database's, new each time it starts hearing them
  int index;
};

}  // namespace pez::daemon
