// SPDX-License-Identifier: Apache-2.0
// How Database opens a connection and sets it up before use: not a standby, the role may use
// schema pez, change notices heard (LISTEN, and a probe that they arrive), the schema migrated,
// the failover safety read, then the catalog. One statement at a time; each answer goes to
// setup_answer, which hands it to the step that reads it, and nothing runs for a connection
// that was replaced meanwhile (while_current). Failures close the connection and try again
// after a backoff.
#include <spdlog/spdlog.h>
#include <algorithm>

#include <unistd.h>

#include <chrono>
#include <utility>

#include "common/count.hpp"
#include "common/settings.hpp"
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

// Only once the server is known not to be a standby: one in recovery refuses LISTEN.
constexpr char const k_listen_sql[] = "LISTEN pez_sequences";
// How long a connection's probe waits for its own notice, once sent.
constexpr auto k_probe_wait = std::chrono::seconds(2);
// When a connection whose probe could not send its notice is probed again: after the first wait,
// then twice the last one, up to the most (each drawn around it: schedule_reprobe).
constexpr Database::Millis k_reprobe_first{1000};
constexpr Database::Millis k_reprobe_most{60'000};

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
      if (auto c = weak.lock(); c && slot.conn == c) probed(slot, {}, true);
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

std::string Database::probe_channel_name() {
  return "pez_probe_" + std::to_string(::getpid()) + "_" + std::to_string(++m_probes);
}

void Database::probe(Slot& slot) {
  slot.probe_channel = probe_channel_name();
  setup_send(slot, SetupStep::probe, "LISTEN " + slot.probe_channel);
}

void Database::probe_listening(Slot& slot) {
  auto const conn = slot.conn;
  // Another connection of the daemon, free now, sends it: no connection opened, and none needed
  // where a pool or a limit has no room for one (a connection probed again usually finds one).
  auto free = std::ranges::find_if(
      m_slots, [&slot](auto const& s) { return s.get() != &slot && !s->listener && s->state == Slot::State::idle; });
  if (free != m_slots.end()) {
    probe_notify_from(slot, **free);
    return;
  }
  auto prober = PgConnection::create(m_io);
  slot.prober = prober;
  prober->connect(slot.listener ? m_options.listen_params : m_options.params,
                  sender_limit(slot, m_options.connect_timeout),
                  [this, &slot, conn, prober](std::expected<void, DbError> opened) {
                    if (slot.prober != prober || slot.probe_channel.empty()) return;
                    if (!opened) {
                      probed(slot, "a second connection to send one failed: " + opened.error().message, false);
                      return;
                    }
                    probe_notify(slot, conn, prober);
                  });
}

void Database::probe_notify(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                            std::shared_ptr<PgConnection> const& prober) {
  prober->exec("NOTIFY " + slot.probe_channel, sender_limit(slot, m_options.statement_timeout),
               [this, &slot, conn, prober](std::expected<PgResults, DbError> sent) {
                 if (slot.prober != prober || slot.probe_channel.empty()) return;
                 if (!sent) {
                   probed(slot, "sending one failed: " + sent.error().message, false);
                   return;
                 }
                 await_probe_notice(slot, conn);
               });
}

void Database::probe_notify_from(Slot& slot, Slot& sender) {
  sender.state = Slot::State::leased;
  auto const conn = slot.conn;
  auto const sender_conn = sender.conn;
  auto const channel = slot.probe_channel;
  // A connection of the daemon's own, which waits as for any statement.
  sender_conn->exec("NOTIFY " + channel, m_options.statement_timeout,
                    [this, &slot, &sender, conn, sender_conn, channel](std::expected<PgResults, DbError> sent) {
                      if (m_stopped) return;
                      bool const probing = slot.conn == conn && slot.probe_channel == channel;
                      if (probing && !sent)
                        probed(slot, "sending one from another connection failed: " + sent.error().message, false);
                      if (probing && sent) await_probe_notice(slot, conn);
                      // The sender goes back to its work (or is lost, when the failure ended its connection).
                      if (sender.conn != sender_conn || sender.state != Slot::State::leased) return;
                      if (!sent && closes_connection(sent.error())) {
                        lost(sender, sent.error().message);
                      } else {
                        release(sender, sender_conn);
                      }
                    });
}

void Database::await_probe_notice(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  // The wait starts once the notice is sent: opening the second connection and sending on it can
  // take seconds on a loaded server, which says nothing of whether notices arrive (each such
  // connection is bounded by connect_timeout and request_timeout).
  slot.probe_timer.expires_after(k_probe_wait);
  slot.probe_timer.async_wait([this, &slot, conn](boost::system::error_code ec) {
    if (ec || slot.conn != conn || slot.probe_channel.empty()) return;
    probed(slot, "no notice arrived within " + settings::format_duration(k_probe_wait) + " of being sent", true);
  });
}

void Database::probed(Slot& slot, std::string const& failure, bool sent) {
  if (slot.probe_channel.empty()) return;
  std::string const channel = std::exchange(slot.probe_channel, {});
  slot.probe_timer.cancel();
  if (slot.prober) slot.prober->close();
  slot.prober.reset();
  bool const heard = failure.empty();
  slot.hears_notices = heard;
  slot.hearing_since = heard ? ++m_hearing_serial : 0;
  slot.probe_unsent = sent ? std::string() : failure;
  if (heard) {
    slot.reprobe_backoff = Millis{0};
    if (slot.reprobing) spdlog::info("change notices reach the database connection to {} now", slot.conn->server());
  } else if (slot.reprobing) {
    spdlog::debug("whether change notices reach the database connection to {} is still not known ({}){}",
                  slot.conn->server(), failure, sent ? "; it is not probed again" : "");
  } else if (!sent) {
    spdlog::warn(
        "whether change notices reach the database connection to {} is not known: a probe could not send one "
        "({}); it is tried again, and block mode refuses meanwhile (a connection limit or a pooler's pool "
        "must leave room for the probe's second connection)",
        slot.conn->server(), failure);
  } else {
    spdlog::warn("change notices do not reach the database connection to {} ({}){}", slot.conn->server(), failure,
                 slot.listener ? "; it is the connection of listen_database_url, which must be a direct one"
                               : "; block mode needs them: set listen_database_url to a direct connection to the "
                                 "database (a connection pooler in transaction mode passes no notices), or serve in "
                                 "strict mode");
  }
  // Only a probe that proved nothing is tried again: one whose notice was sent and did not arrive
  // found what a transaction pooler does, and probing it again would hold the connection each time.
  if (!sent) schedule_reprobe(slot);
  // The probe's channel is left; without notices, nothing is left listening on whatever server
  // connection a pooler gave it.
  setup_send(slot, SetupStep::unlisten, heard ? "UNLISTEN " + channel : std::string("UNLISTEN *"));
}

void Database::forget_probe(Slot& slot) {
  slot.probe_channel.clear();
  slot.probe_timer.cancel();
  if (slot.prober) slot.prober->close();
  slot.prober.reset();
  slot.hears_notices = false;
  slot.hearing_since = 0;
  slot.probe_unsent.clear();
  // A new connection is probed as it is set up; the wait before probing again is kept.
  slot.reprobe_timer.cancel();
  slot.reprobe_due = false;
  slot.reprobing = false;
}

void Database::schedule_reprobe(Slot& slot) {
  slot.reprobe_backoff =
      slot.reprobe_backoff.count() == 0 ? k_reprobe_first : std::min(slot.reprobe_backoff * 2, k_reprobe_most);
  // Half to one and a half times the wait: connections that failed together (each needing another
  // to be free) do not probe again together.
  std::uniform_int_distribution<Millis::rep> jitter(slot.reprobe_backoff.count() / 2,
                                                    slot.reprobe_backoff.count() * 3 / 2);
  slot.reprobe_timer.expires_after(Millis{jitter(m_reprobe_jitter)});
  slot.reprobe_timer.async_wait([this, &slot, conn = slot.conn](boost::system::error_code ec) {
    if (ec || m_stopped || slot.conn != conn) return;
    slot.reprobe_due = true;
    if (slot.state == Slot::State::idle) became_free(slot);
  });
}

void Database::reprobe(Slot& slot) {
  // The connection runs nothing else until the probe is over, as when it is set up: behind a
  // transaction pooler a statement of its own could run on the server connection that listens
  // and bring it a notice that would not reach it otherwise.
  slot.reprobe_due = false;
  slot.reprobing = true;
  slot.state = Slot::State::leased;
  // The failed probe's UNLISTEN * ended every LISTEN.
  setup_send(slot, SetupStep::listen, k_listen_sql);
}

void Database::reprobed(Slot& slot) {
  slot.reprobing = false;
  // Notices may have been missed while it heard none, as when it reconnects (finish_setup).
  bool const reader = m_listener == nullptr || slot.listener;
  if (slot.hears_notices && reader && missed_notices()) m_refresh_wanted = true;
  release(slot, slot.conn);
}

TimeLimit Database::sender_limit(Slot const& slot, TimeLimit limit) {
  // A connection probed again waits for the sender: briefly.
  if (slot.reprobing && limit.after > k_probe_wait) return TimeLimit{k_probe_wait, "probing a connection again"};
  return limit;
}

bool Database::missed_notices() const {
  return !catalog_complete() && !(m_whole_read_running && !m_hearing_at_read.empty());
}

void Database::finish_setup(Slot& slot) {
  // Notices may have been missed while it was down: the catalog is read again, on the connection
  // that reads it (the listener, or this one unless a read runs already: one at a time, so that
  // reads end in the order they started).
  slot.state = Slot::State::leased;
  bool const reader = m_listener == nullptr || slot.listener;
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
