// SPDX-License-Identifier: Apache-2.0
// How Database opens a connection and sets it up before use: not a standby, the role may use
// schema pez, change notices heard (LISTEN, and the probe that they arrive: database_probe.cpp),
// the schema migrated, the failover safety read, then the catalog. One statement at a time; each
// answer goes to setup_answer, which hands it to the step that reads it, and nothing runs for a
// connection that was replaced meanwhile (while_current). Failures close the connection and try
// again after a backoff.
#include <spdlog/spdlog.h>
#include <algorithm>

#include <utility>

#include "common/count.hpp"
#include "daemon/db/database.hpp"
#include "daemon/db/database_slot.hpp"
#include "daemon/db/migrations.hpp"
#include "daemon/ops/log_throttle.hpp"
#include "daemon/ops/metrics.hpp"

#ifndef PEZ_SQL_DIR
#define PEZ_SQL_DIR "/usr/share/pez/sql"
#endif

namespace pez::daemon {
namespace {

// Nothing is set for the session: behind a transaction pooler the next statement may run on
// another server connection. Durability is set in each taking transaction (sql/006).
constexpr char const k_session_sql[] =
    "SELECT pg_is_in_recovery(), current_user, current_database(),"
    // to_regclass would fail, not answer, for a role that may not use the schema.
    " EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "   WHERE n.nspname = 'pez' AND c.relname = 'schema_migrations'),"
    " (SELECT has_schema_privilege(oid, 'USAGE') FROM pg_catalog.pg_namespace WHERE nspname = 'pez')";

constexpr char const k_version_sql[] = "SELECT coalesce(max(version), 0) FROM pez.schema_migrations";

}  // namespace

std::string missing_grant(std::string const& role, std::string const& what, std::string const& grant) {
  return "pezd's database role " + role + " may not " + what +
         "; run " PEZ_SQL_DIR "/grants.sql as the owner of schema pez (psql -v pezd=" + role +
         " -f FILE), which grants it " + grant;
}

template <typename Result>
std::move_only_function<void(Result)> Database::while_current(Slot& slot, void (Database::*step)(Slot&, Result)) {
  return [this, &slot, conn = slot.conn, step](Result result) {
    if (slot.conn != conn || m_stopped) return;
    (this->*step)(slot, std::move(result));
  };
}

void Database::connect(Slot& slot) {
  if (m_stopped) return;
  auto conn = PgConnection::create(m_io);
  slot.conn = conn;
  slot.state = Slot::State::connecting;
  conn->on_notify([this, &slot, weak = std::weak_ptr(conn)](std::string_view channel, std::string_view payload) {
    if (!slot.probe_channel.empty() && channel == slot.probe_channel) {
      if (auto c = weak.lock(); c && slot.conn == c) probed(slot, ProbeEnd::heard);
      return;
    }
    notice(channel, payload);
  });
  conn->on_lost([this, &slot, weak = std::weak_ptr(conn)](DbError const& error) {
    if (slot.conn != weak.lock()) return;
    lost(slot, error.message);
  });
  conn->connect(slot.listener ? m_options.listen_params : m_options.params, m_options.connect_timeout,
                while_current(slot, &Database::opened));
}

void Database::opened(Slot& slot, std::expected<void, DbError> result) {
  m_metrics.db_connect(result.has_value());
  m_cannot_connect = !result;
  m_misconfiguration = result ? std::nullopt : misconfiguration(result.error());
  if (!result) {
    setup_failed(slot, slot.conn, result.error().message);
    return;
  }
  slot.state = Slot::State::setting_up;
  setup_send(slot, SetupStep::session, k_session_sql);
}

void Database::setup_send(Slot& slot, SetupStep step, std::string const& sql) {
  slot.setup = step;
  slot.conn->exec(sql, m_options.statement_timeout, while_current(slot, &Database::setup_answer));
}

void Database::setup_answer(Slot& slot, std::expected<PgResults, DbError> answer) {
  // The probe was given up meanwhile (forget_probe): nothing waits for its LISTEN.
  if (slot.setup == SetupStep::probe && slot.probe_channel.empty()) return;
  if (!answer) {
    setup_failed(slot, slot.conn, setup_problem(slot, answer.error()));
    return;
  }
  switch (slot.setup) {
    case SetupStep::session:
      session_read(slot, *answer);
      return;
    case SetupStep::listen:
      probe(slot);
      return;
    case SetupStep::probe:
      probe_listening(slot);
      return;
    case SetupStep::unlisten:
      if (slot.reprobing) {
        reprobed(slot);
      } else {
        schema_next(slot);
      }
      return;
    case SetupStep::version:
      version_read(slot, *answer);
      return;
    case SetupStep::migration:
      migrated(slot);
      return;
  }
}

std::string Database::setup_problem(Slot const& slot, DbError const& error) const {
  bool const denied = error.kind == DbError::Kind::denied;
  if (slot.setup == SetupStep::version && denied) {
    return missing_grant(slot.conn->user(), "read pez.schema_migrations",
                         "SELECT ON pez.schema_migrations, among others");
  }
  if (slot.setup != SetupStep::migration) return error.message;
  if (!denied) return "cannot apply sql/" + std::string(slot.migration.file) + ": " + error.message;
  auto const role = slot.conn->user();
  return "the pez schema is missing or older than this pezd, and its database role " + role + " may not change it (" +
         error.message +
         "); run pezd migrate as the database owner, then " PEZ_SQL_DIR "/grants.sql (psql -v pezd=" + role +
         " -f FILE)";
}

void Database::session_read(Slot& slot, PgResults const& rows) {
  auto const conn = slot.conn;
  if (value(rows, 0, 0, 0) == "t") {
    setup_failed(slot, conn,
                 "the server at " + conn->server() +
                     " is in recovery (a standby) and cannot hand out numbers; point pezd at "
                     "the primary, or list every host and add target_session_attrs=read-write "
                     "to database_url");
    return;
  }
  if (!slot.listener) m_server = conn->server() + " as " + value(rows, 0, 0, 1) + " on " + value(rows, 0, 0, 2);
  slot.schema_found = value(rows, 0, 0, 3) == "t";
  if (value(rows, 0, 0, 4) == "f") {
    setup_failed(slot, conn,
                 missing_grant(value(rows, 0, 0, 1), "use schema pez", "USAGE ON SCHEMA pez, among others"));
    return;
  }
  if (!listens(slot)) {
    schema_next(slot);
    return;
  }
  setup_send(slot, SetupStep::listen, k_listen_sql);
}

void Database::schema_next(Slot& slot) {
  if (slot.listener) {
    finish_setup(slot);  // the other connections migrate
  } else if (slot.schema_found) {
    setup_send(slot, SetupStep::version, k_version_sql);
  } else {
    migrate(slot, 0);
  }
}

void Database::version_read(Slot& slot, PgResults const& rows) {
  auto const current = parse_int64(value(rows, 0, 0, 0));
  if (!current) {
    setup_failed(slot, slot.conn, "cannot read the schema version in pez.schema_migrations");
    return;
  }
  migrate(slot, static_cast<int>(*current));
}

void Database::migrate(Slot& slot, int from_version) {
  auto const all = migrations();
  auto next = std::ranges::find_if(all, [from_version](Migration const& m) { return m.version > from_version; });
  if (next == all.end()) {
    check_failover(slot, slot.conn, true, [this, &slot] { finish_setup(slot); });
    return;
  }
  slot.migration = *next;
  setup_send(slot, SetupStep::migration, std::string(next->sql));
}

void Database::migrated(Slot& slot) {
  Migration const migration = slot.migration;
  // Connections set up at the same time may both run a migration; the advisory lock in the file
  // makes the second one find everything in place.
  if (migration.version > m_migrated_version) {
    m_migrated_version = migration.version;
    spdlog::info("schema pez is at version {} (sql/{})", migration.version, migration.file);
  }
  migrate(slot, migration.version);
}

void Database::finish_setup(Slot& slot) {
  // Notices may have been missed while it was down: the catalog is read again, on the connection
  // that reads it (the listener, or this one unless a read runs already: one at a time, so that
  // reads end in the order they started).
  slot.state = Slot::State::leased;
  bool const reader = listens(slot);
  if (reader && missed_notices()) m_refresh_wanted = true;
  if (reader && m_reads_running == 0 && catalog_read_wanted()) {
    run_catalog_refresh(slot);
    return;
  }
  connection_ready(slot);
}

void Database::setup_failed(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& message) {
  conn->close();
  forget_probe(slot);
  slot.state = Slot::State::closed;
  if (slot.listener) {
    // The others take numbers; without this one the catalog is not read and no notice is heard.
    thread_local LogThrottle log;
    if (log.allow()) {
      spdlog::warn("the connection of listen_database_url failed: {}; retrying{}", message, log.left_out_text());
    }
  } else {
    note_failure(message);
  }
  schedule_reconnect(slot);
}

void Database::note_failure(std::string const& message) {
  m_latest_attempt_failed = true;
  if (up()) {
    spdlog::debug("database connection attempt failed: {}", message);
    return;
  }
  if (message != m_last_error || m_was_up) {
    spdlog::error("database unavailable: {}; retrying", message);
  } else {
    spdlog::debug("database still unavailable: {}", message);
  }
  m_was_up = false;
  m_last_error = message;
  if (m_events) m_events->store_down(message);
}

void Database::schedule_reconnect(Slot& slot) {
  if (m_stopped) return;
  slot.state = Slot::State::waiting;
  auto const delay = slot.backoff;
  slot.backoff = slot.backoff.count() == 0 ? Millis{100} : std::min(slot.backoff * 2, m_options.reconnect_max);
  if (slot.backoff > m_options.reconnect_max) slot.backoff = m_options.reconnect_max;
  slot.retry.expires_after(delay);
  slot.retry.async_wait([this, &slot](boost::system::error_code ec) {
    if (ec || m_stopped || slot.state != Slot::State::waiting) return;
    connect(slot);
  });
}

}  // namespace pez::daemon
