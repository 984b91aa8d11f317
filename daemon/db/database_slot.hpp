// SPDX-License-Identifier: Apache-2.0
// A connection of Database (database.hpp) and what it is doing, and what the files of Database
// share: database.cpp leases connections for the core's statements, database_setup.cpp opens
// and sets them up, database_probe.cpp proves they hear change notices, database_catalog.cpp
// reads the catalog on them, and database_checks.cpp runs the periodic statements. Nothing else
// includes it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/db/database.hpp"
#include "daemon/db/db_answers.hpp"
#include "daemon/db/migrations.hpp"
#include "daemon/db/pg_connection.hpp"

namespace pez::daemon {

struct Database::Slot {
  explicit Slot(boost::asio::io_context& io, int i) : retry(io), probe_timer(io), reprobe_timer(io), index(i) {}
  enum class State { closed, connecting, setting_up, idle, leased, waiting };
  std::shared_ptr<PgConnection> conn;
  State state = State::closed;
  Millis backoff{0};
  boost::asio::steady_timer retry;
  bool listener = false;  // LISTEN and the catalog only, on listen_params
  // While it is set up: the statement that runs, whether schema pez has its table of versions,
  // and the migration being applied.
  SetupStep setup = SetupStep::session;
  bool schema_found = false;
  Migration migration{};
  // The notice probe of the connection: its channel while it runs, the second connection that
  // sends it, and whether the connection heard it.
  std::string probe_channel;
  std::shared_ptr<PgConnection> prober;
  boost::asio::steady_timer probe_timer;
  bool hears_notices = false;
  std::uint64_t hearing_since = 0;  // a number of Database's, new each time it starts hearing them
  std::string probe_unsent;         // why the last probe could not send its notice, if it could not
  // After a probe that could not send its notice, or (once block mode is used: block_used) whose
  // notice did not arrive, the connection is probed again (Database::schedule_reprobe,
  // reprobe): the wait before the next probe, whether it is due, and whether it runs.
  boost::asio::steady_timer reprobe_timer;
  Millis reprobe_backoff{0};
  bool reprobe_due = false;
  bool reprobing = false;
  // Its notice did not arrive and it is not probed again while block mode is not used
  // (Database::block_used probes it again).
  bool reprobe_when_block_used = false;
  int index;
};

// Only once the server is known not to be a standby: one in recovery refuses LISTEN. Sent as a
// connection is set up (database_setup.cpp) and probed again (database_probe.cpp).
inline constexpr char k_listen_sql[] = "LISTEN pez_sequences";

// What to say when pezd's role lacks a right that sql/grants.sql gives.
std::string missing_grant(std::string const& role, std::string const& what, std::string const& grant);

// A PostgreSQL array literal of names (each quoted, with " and \ escaped).
std::string array_literal(std::vector<std::string> const& names);

template <typename T, typename Read>
PgConnection::ResultHandler Database::answer(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                                             std::move_only_function<void(std::expected<T, StoreError>)> handler,
                                             Read read) {
  return [this, &slot, conn, handler = std::move(handler),
          read = std::move(read)](std::expected<PgResults, DbError> result) mutable {
    if (!result) {
      auto const& failure = result.error();
      finish(slot, conn, &failure, [&] { handler(std::unexpected(classify(failure))); });
      return;
    }
    std::expected<T, StoreError> answer = read(*result);
    // An answer pezd cannot read hands out nothing; the connection stays.
    DbError const odd{DbError::Kind::failed, answer ? std::string() : answer.error().message, {}, {}};
    finish(slot, conn, answer ? nullptr : &odd, [&] { handler(std::move(answer)); });
  };
}

}  // namespace pez::daemon
