// The database side of pezd: a few PostgreSQL connections kept open (reconnecting with backoff),
// each set up before use (durable commits, not a standby, schema migrated, statement prepared),
// and the catalog of sequences read from them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/catalog.hpp"
#include "daemon/pg_connection.hpp"

namespace pez::daemon {

class Metrics;

// The statements that take numbers, from sql/004_durable_take.sql and sql/003_admin.sql: $1 is
// the sequence (pez."name"), $2 how many. Each writes WAL in its transaction (a logical message,
// setval), so that the commit is flushed, and on a synchronous standby, before the numbers are
// answered (see 004 for why).
inline constexpr char const k_take_statement[] = "pez_take";
inline constexpr char const k_take_sql[] = "SELECT pez.take($1::regclass, $2::integer)";
inline constexpr char const k_reserve_statement[] = "pez_reserve";
inline constexpr char const k_reserve_sql[] =
    "SELECT first_value, last_value, increment, generation FROM pez.reserve($1::regclass, $2::bigint)";
// The channel sql/003_admin.sql announces changes on: "NAME GENERATION" or "NAME dropped".
inline constexpr char const k_change_channel[] = "pez_sequences";

// The sequence of a name as a regclass literal. Names are checked (a-z 0-9 _ -) before they get
// here; the quotes keep '-' part of the identifier.
inline std::string qualified_sequence(std::string_view name) {
  return "pez.\"" + std::string(name) + "\"";
}

class Database {
 public:
  using Clock = std::chrono::steady_clock;
  using Millis = std::chrono::milliseconds;

  struct Options {
    ConnParams params;
    int connections = 2;
    Millis connect_timeout{5000};
    Millis statement_timeout{5000};
    Millis reconnect_max{1000};
  };

  Database(boost::asio::io_context& io, Options options, Metrics& metrics);
  ~Database();
  Database(Database const&) = delete;
  Database& operator=(Database const&) = delete;

  void start();
  void stop();

  // A connection that is set up and free to run one statement, or null.
  std::shared_ptr<PgConnection> lease();
  // Returns a leased connection. A failure other than an SQL error closes it and reconnects.
  void give_back(std::shared_ptr<PgConnection> const& conn, DbError const* failure);

  bool up() const;    // some connection is set up
  bool down() const;  // none is, and the latest attempt failed: answer at once, do not wait
  std::string const& last_error() const { return m_last_error; }
  std::string server() const { return m_server; }
  int connections_up() const;

  Catalog const& catalog() const { return m_catalog; }
  // Reads the catalog again on the next free connection.
  void refresh_catalog();
  // A read of the catalog is wanted or running: what it holds may be out of date.
  bool catalog_stale() const;

  // Called when a connection becomes free, when the catalog was read, and when the database
  // went down (no connection, latest attempt failed).
  std::function<void()> on_available;
  std::function<void()> on_catalog;
  std::function<void(DbError const&)> on_down;
  // A sequence was created or reset (generation > 0) or dropped (generation 0), as announced
  // by the database.
  std::function<void(std::string const& name, std::int64_t generation)> on_change;

 private:
  struct Slot;
  void connect(Slot& slot);
  void setup(Slot& slot, std::shared_ptr<PgConnection> const& conn);
  void read_version(Slot& slot, std::shared_ptr<PgConnection> const& conn);
  void migrate(Slot& slot, std::shared_ptr<PgConnection> const& conn, int from_version);
  void finish_setup(Slot& slot, std::shared_ptr<PgConnection> const& conn);
  void setup_failed(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& message);
  void schedule_reconnect(Slot& slot);
  void lost(Slot& slot, std::string const& message);
  void became_free(Slot& slot);
  void run_catalog_refresh(Slot& slot);
  Slot* slot_of(std::shared_ptr<PgConnection> const& conn);
  void note_failure(std::string const& message);

  boost::asio::io_context& m_io;
  Options m_options;
  Metrics& m_metrics;
  std::vector<std::unique_ptr<Slot>> m_slots;
  Catalog m_catalog;
  bool m_stopped = true;
  bool m_latest_attempt_failed = false;
  bool m_refresh_wanted = false;
  bool m_refresh_running = false;
  bool m_was_up = false;
  int m_migrated_version = 0;
  std::string m_last_error = "not connected yet";
  std::string m_server;
};

}  // namespace pez::daemon
