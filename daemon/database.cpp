// SPDX-License-Identifier: Apache-2.0
#include "daemon/database.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>

#include <unistd.h>

#include <stdexcept>
#include <utility>

#include "common/count.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/database_slot.hpp"
#include "daemon/log_throttle.hpp"
#include "daemon/metrics.hpp"
#include "daemon/migrations.hpp"

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

// What to say when pezd's role lacks a right that sql/grants.sql gives.
std::string missing_grant(std::string const& role, std::string const& what, std::string const& grant) {
  return "pezd's database role " + role + " may not " + what +
         "; run " PEZ_SQL_DIR "/grants.sql as the owner of schema pez (psql -v pezd=" + role +
         " -f FILE), which grants it " + grant;
}

// Only once the server is known not to be a standby: one in recovery refuses LISTEN.
constexpr char const k_listen_sql[] = "LISTEN pez_sequences";

constexpr char const k_version_sql[] = "SELECT coalesce(max(version), 0) FROM pez.schema_migrations";

// Columns 0-7 are read by read_info, as are those of k_list_sql; the format columns after them
// (k_format_columns) by read_format.
// From the catalog tables, not the view pg_sequences: the view opens every sequence, and one
// dropped meanwhile fails the whole read ("could not open relation with OID").
#define PEZ_SEQUENCES_JOIN                                                               \
  " FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace" \
  " JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid"                                 \
  " LEFT JOIN pez.sequences c ON c.name = r.relname::text"
#define PEZ_SEQUENCES_WHERE \
  " WHERE n.nspname = 'pez' AND r.relkind = 'S' AND r.relname::text ~ '^[a-z][a-z0-9_-]{0,47}$'"
#define PEZ_FORMAT_COLUMNS " c.format, c.period, c.time_zone, c.check_digits, to_char(c.current_period, 'YYYYMMDD')"
#define PEZ_CATALOG_SELECT                                                              \
  "SELECT r.relname::text, s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle," \
  " c.mode, coalesce(c.generation, 0)," PEZ_FORMAT_COLUMNS PEZ_SEQUENCES_JOIN PEZ_SEQUENCES_WHERE
constexpr char const k_catalog_sql[] = PEZ_CATALOG_SELECT " ORDER BY 1";
// The same of the sequences named in $1 (a text array) only: found through pg_class's index on
// the name, so that it costs the same with 10 sequences in schema pez as with 100,000.
constexpr char const k_entries_sql[] = PEZ_CATALOG_SELECT " AND r.relname = ANY($1::text[]::name[])";

// A PostgreSQL array literal of names (each quoted, with " and \ escaped).
std::string array_literal(std::vector<std::string> const& names) {
  std::string out = "{";
  for (auto const& name : names) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Every sequence of schema pez ($1 NULL) or one, with its settings, state and catalog entry.
// One is found through pg_class's index on the name (the name pattern alone would read every
// sequence: 20 ms of each pez admin create's read back beside 10,000 sequences).
// pez.sequence_state answers no state for a sequence dropped while the list is read (version 5).
constexpr char const k_list_sql[] =
    "SELECT r.relname::text, s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle,"
    " c.mode, coalesce(c.generation, 0), st.last_value, st.is_called, coalesce(c.description, ''),"
    " to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " to_char(c.reset_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " (SELECT count(*) FROM pg_catalog.pg_stat_activity"
    "   WHERE datname = current_database() AND application_name = 'pezd')," PEZ_FORMAT_COLUMNS PEZ_SEQUENCES_JOIN
    " CROSS JOIN LATERAL pez.sequence_state(r.relname::text) st" PEZ_SEQUENCES_WHERE
    "   AND ($1::text IS NULL OR (r.relname = $1::name AND r.relname::text = $1)) AND st.last_value IS NOT NULL"
    " ORDER BY 1";

constexpr char const k_create_sql[] =
    "SELECT pez.create_sequence($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::boolean, $7, $8, $9, $10,"
    " $11, $12)";
constexpr char const k_reset_sql[] = "SELECT pez.reset_sequence($1, $2::bigint)";
constexpr char const k_drop_sql[] = "SELECT pez.drop_sequence($1)";

}  // namespace

Database::Database(boost::asio::io_context& io, Options options, Metrics& metrics)
    : m_io(io), m_options(std::move(options)), m_metrics(metrics), m_failover_timer(io), m_usage_timer(io) {
  for (int i = 0; i < m_options.connections; ++i) m_slots.push_back(std::make_unique<Slot>(io, i));
  if (!m_options.listen_params.empty()) {
    m_slots.push_back(std::make_unique<Slot>(io, m_options.connections));
    m_listener = m_slots.back().get();
    m_listener->listener = true;
  }
}

Database::~Database() { stop(); }

void Database::start() {
  m_stopped = false;
  for (auto& slot : m_slots) connect(*slot);
  arm_failover_check();
  arm_usage_read();
}

void Database::stop() {
  m_stopped = true;
  m_failover_timer.cancel();
  m_usage_timer.cancel();
  for (auto& slot : m_slots) {
    slot->retry.cancel();
    slot->probe_timer.cancel();
    if (slot->prober) slot->prober->close();
    slot->prober.reset();
    if (slot->conn) slot->conn->close();
    slot->conn.reset();
    slot->state = Slot::State::closed;
  }
}

bool Database::catalog_stale() const { return m_refresh_wanted || m_whole_read_running; }

bool Database::catalog_complete() const {
  if (catalog_stale() || !m_catalog.loaded()) return false;
  return std::ranges::any_of(m_catalog_hearing, [](auto const& heard) {
    return heard.first->hears_notices && heard.first->hearing_since == heard.second;
  });
}

bool Database::up() const { return connections_up() > 0; }

bool Database::down() const { return !up() && m_latest_attempt_failed; }

int Database::connections_up() const {
  return static_cast<int>(std::ranges::count_if(m_slots, [](auto const& s) {
    return !s->listener && (s->state == Slot::State::idle || s->state == Slot::State::leased);
  }));
}

bool Database::listens(Slot const& slot) const { return slot.listener || m_listener == nullptr; }

std::optional<std::string> Database::notices_problem() const {
  auto up = [](Slot const& s) { return s.state == Slot::State::idle || s.state == Slot::State::leased; };
  if (m_listener != nullptr) {
    if (!up(*m_listener) || m_listener->hears_notices) return std::nullopt;
    return "change notices do not arrive on the connection of listen_database_url either (is it a "
           "transaction pooler too?); point listen_database_url straight at the database";
  }
  for (auto const& slot : m_slots) {
    if (up(*slot) && !slot->hears_notices) {
      return "change notices do not arrive on the database connections (a connection pooler in "
             "transaction mode, such as PgBouncer?); set listen_database_url to a direct connection "
             "to the database, or serve in strict mode";
    }
  }
  return std::nullopt;
}

void Database::notice(std::string_view channel, std::string_view payload) {
  // "NAME GENERATION" or "NAME dropped", as sql/003_admin.sql sends it; anyone may send one, so
  // only the name is used, as a reason to read the catalog again (the core checks it).
  if (channel != k_change_channel || m_events == nullptr) return;
  auto const space = payload.rfind(' ');
  m_events->store_notice(std::string(payload.substr(0, space)));
}

void Database::connect(Slot& slot) {
  if (m_stopped) return;
  auto conn = PgConnection::create(m_io);
  slot.conn = conn;
  slot.state = Slot::State::connecting;
  conn->on_notify([this, &slot, weak = std::weak_ptr(conn)](std::string_view channel, std::string_view payload) {
    if (!slot.probe_channel.empty() && channel == slot.probe_channel) {
      if (auto c = weak.lock(); c && slot.conn == c) probed(slot, c, {});
      return;
    }
    notice(channel, payload);
  });
  conn->on_lost([this, &slot, weak = std::weak_ptr(conn)](DbError const& error) {
    if (slot.conn != weak.lock()) return;
    lost(slot, error.message);
  });
  conn->connect(slot.listener ? m_options.listen_params : m_options.params, m_options.connect_timeout,
                [this, &slot, conn](std::expected<void, DbError> result) {
                  if (slot.conn != conn || m_stopped) return;
                  m_metrics.db_connect(result.has_value());
                  m_cannot_connect = !result;
                  m_misconfiguration = result ? std::nullopt : misconfiguration(result.error());
                  if (!result) {
                    setup_failed(slot, conn, result.error().message);
                    return;
                  }
                  setup(slot, conn);
                });
}

void Database::setup(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  slot.state = Slot::State::setting_up;
  conn->exec(k_session_sql, m_options.statement_timeout, [this, &slot, conn](std::expected<PgResults, DbError> result) {
    if (slot.conn != conn || m_stopped) return;
    if (!result) {
      setup_failed(slot, conn, result.error().message);
      return;
    }
    if (value(*result, 0, 0, 0) == "t") {
      setup_failed(slot, conn,
                   "the server at " + conn->server() +
                       " is in recovery (a standby) and cannot hand out numbers; point pezd at "
                       "the primary, or list every host and add target_session_attrs=read-write "
                       "to database_url");
      return;
    }
    if (!slot.listener) {
      m_server = conn->server() + " as " + value(*result, 0, 0, 1) + " on " + value(*result, 0, 0, 2);
    }
    bool const has_schema = value(*result, 0, 0, 3) == "t";
    if (value(*result, 0, 0, 4) == "f") {
      setup_failed(slot, conn,
                   missing_grant(value(*result, 0, 0, 1), "use schema pez", "USAGE ON SCHEMA pez, among others"));
      return;
    }
    auto schema = [this, &slot, conn, has_schema] {
      if (slot.listener) {
        finish_setup(slot, conn);  // the other connections migrate
      } else if (has_schema) {
        read_version(slot, conn);
      } else {
        migrate(slot, conn, 0);
      }
    };
    if (!listens(slot)) {
      schema();
      return;
    }
    conn->exec(k_listen_sql, m_options.statement_timeout,
               [this, &slot, conn, schema](std::expected<PgResults, DbError> listening) {
                 if (slot.conn != conn || m_stopped) return;
                 if (!listening) {
                   setup_failed(slot, conn, listening.error().message);
                   return;
                 }
                 probe(slot, conn, schema);
               });
  });
}

void Database::probe(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::function<void()> next) {
  slot.probe_channel = "pez_probe_" + std::to_string(::getpid()) + "_" + std::to_string(++m_probes);
  slot.after_probe = std::move(next);
  conn->exec("LISTEN " + slot.probe_channel, m_options.statement_timeout,
             [this, &slot, conn](std::expected<PgResults, DbError> listening) {
               if (slot.conn != conn || m_stopped || slot.probe_channel.empty()) return;
               if (!listening) {
                 slot.probe_channel.clear();
                 setup_failed(slot, conn, listening.error().message);
                 return;
               }
               slot.probe_timer.expires_after(std::chrono::seconds(1));
               slot.probe_timer.async_wait([this, &slot, conn](boost::system::error_code ec) {
                 if (ec || slot.conn != conn || slot.probe_channel.empty()) return;
                 probed(slot, conn, "no notice arrived within a second");
               });
               auto prober = PgConnection::create(m_io);
               slot.prober = prober;
               prober->connect(slot.listener ? m_options.listen_params : m_options.params, m_options.connect_timeout,
                               [this, &slot, conn, prober](std::expected<void, DbError> opened) {
                                 if (slot.prober != prober || slot.probe_channel.empty()) return;
                                 if (!opened) {
                                   probed(slot, conn,
                                          "a second connection to send one failed: " + opened.error().message);
                                   return;
                                 }
                                 prober->exec("NOTIFY " + slot.probe_channel, m_options.statement_timeout,
                                              [this, &slot, conn, prober](std::expected<PgResults, DbError> sent) {
                                                if (slot.prober != prober || slot.probe_channel.empty()) return;
                                                if (!sent)
                                                  probed(slot, conn, "sending one failed: " + sent.error().message);
                                              });
                               });
             });
}

void Database::probed(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& failure) {
  if (slot.probe_channel.empty()) return;
  std::string const channel = std::exchange(slot.probe_channel, {});
  slot.probe_timer.cancel();
  if (slot.prober) slot.prober->close();
  slot.prober.reset();
  slot.hears_notices = failure.empty();
  slot.hearing_since = failure.empty() ? ++m_hearing_serial : 0;
  auto next = std::exchange(slot.after_probe, nullptr);
  if (!failure.empty()) {
    spdlog::warn("change notices do not reach the database connection to {} ({}){}", conn->server(), failure,
                 slot.listener ? "; it is the connection of listen_database_url, which must be a direct one"
                               : "; block mode needs them: set listen_database_url to a direct connection to the "
                                 "database (a connection pooler in transaction mode passes no notices), or serve in "
                                 "strict mode");
  }
  // The probe's channel is left; without notices, nothing is left listening on whatever server
  // connection a pooler gave it.
  conn->exec(failure.empty() ? "UNLISTEN " + channel : std::string("UNLISTEN *"), m_options.statement_timeout,
             [this, &slot, conn, next = std::move(next)](std::expected<PgResults, DbError> result) mutable {
               if (slot.conn != conn || m_stopped) return;
               if (!result) {
                 setup_failed(slot, conn, result.error().message);
                 return;
               }
               next();
             });
}

void Database::read_version(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  conn->exec(k_version_sql, m_options.statement_timeout,
             [this, &slot, conn](std::expected<PgResults, DbError> version) {
               if (slot.conn != conn || m_stopped) return;
               if (!version) {
                 setup_failed(slot, conn,
                              version.error().kind == DbError::Kind::denied
                                  ? missing_grant(conn->user(), "read pez.schema_migrations",
                                                  "SELECT ON pez.schema_migrations, among others")
                                  : version.error().message);
                 return;
               }
               auto const current = parse_int64(value(*version, 0, 0, 0));
               if (!current) {
                 setup_failed(slot, conn, "cannot read the schema version in pez.schema_migrations");
                 return;
               }
               migrate(slot, conn, static_cast<int>(*current));
             });
}

void Database::migrate(Slot& slot, std::shared_ptr<PgConnection> const& conn, int from_version) {
  auto const all = migrations();
  auto next = std::ranges::find_if(all, [from_version](Migration const& m) { return m.version > from_version; });
  if (next == all.end()) {
    check_failover(slot, conn, true, [this, &slot, conn] { finish_setup(slot, conn); });
    return;
  }
  Migration const migration = *next;
  conn->exec(std::string(migration.sql), m_options.statement_timeout,
             [this, &slot, conn, migration](std::expected<PgResults, DbError> result) {
               if (slot.conn != conn || m_stopped) return;
               if (!result) {
                 auto const& error = result.error();
                 std::string message = "cannot apply sql/" + std::string(migration.file) + ": " + error.message;
                 if (error.kind == DbError::Kind::denied) {
                   message = "the pez schema is missing or older than this pezd, and its database role " +
                             conn->user() + " may not change it (" + error.message +
                             "); run pezd migrate as the database owner, then " PEZ_SQL_DIR
                             "/grants.sql (psql -v pezd=" +
                             conn->user() + " -f FILE)";
                 }
                 setup_failed(slot, conn, message);
                 return;
               }
               // Connections set up at the same time may both run a migration; the advisory lock
               // in the file makes the second one find everything in place.
               if (migration.version > m_migrated_version) {
                 m_migrated_version = migration.version;
                 spdlog::info("schema pez is at version {} (sql/{})", migration.version, migration.file);
               }
               migrate(slot, conn, migration.version);
             });
}

void Database::finish_setup(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  (void)conn;
  // Notices may have been missed while it was down: the catalog is read again, on the connection
  // that reads it (the listener, or this one unless a read runs already: one at a time, so that
  // reads end in the order they started).
  slot.state = Slot::State::leased;
  bool const reader = m_listener == nullptr || slot.listener;
  // Unless another connection has heard every notice since the catalog was read whole (or
  // heard them when the whole read that runs began).
  bool const heard = catalog_complete() || (m_whole_read_running && !m_hearing_at_read.empty());
  if (reader && !heard) m_refresh_wanted = true;
  if (reader && m_reads_running == 0 && catalog_read_wanted()) {
    run_catalog_refresh(slot);
    return;
  }
  connection_ready(slot);
}

void Database::run_catalog_refresh(Slot& slot) {
  auto conn = slot.conn;
  // A whole read covers the names wanted too.
  bool const whole = m_refresh_wanted;
  std::vector<std::string> names;
  if (!whole) names.assign(m_entries_wanted.begin(), m_entries_wanted.end());
  m_entries_wanted.clear();
  m_refresh_wanted = false;
  ++m_reads_running;
  m_whole_read_running = whole;
  if (whole) {
    m_hearing_at_read.clear();
    for (auto const& s : m_slots) {
      bool const up = s->state == Slot::State::idle || s->state == Slot::State::leased;
      if (up && s->hears_notices && (m_listener == nullptr || s->listener))
        m_hearing_at_read.emplace_back(s.get(), s->hearing_since);
    }
  }
  auto const read = ++m_reads_started;
  auto done = [this, &slot, conn, read, whole, names](std::expected<PgResults, DbError> result) mutable {
    --m_reads_running;
    m_whole_read_running = false;
    if (slot.conn != conn || m_stopped) return;
    if (!result) {
      // Wanted again, by whichever connection reads the catalog next.
      if (whole) {
        m_refresh_wanted = true;
      } else if (!m_refresh_wanted) {
        m_entries_wanted.insert(names.begin(), names.end());
      }
      if (result.error().kind == DbError::Kind::denied) {
        setup_failed(slot, conn,
                     missing_grant(conn->user(), "read pez.sequences", "SELECT ON pez.sequences, among others"));
      } else if (result.error().answered()) {
        setup_failed(slot, conn, "cannot read the sequences of schema pez: " + result.error().message);
      } else {
        lost(slot, result.error().message);
      }
      return;
    }
    std::vector<SequenceInfo> sequences;
    auto const* rows = result->front().get();
    for (int row = 0; row < PQntuples(rows); ++row) {
      SequenceInfo info;
      if (!read_info(rows, row, info) || !read_format(rows, row, k_catalog_format_column, info)) {
        m_refresh_wanted = true;
        setup_failed(
            slot, conn,
            "cannot read the sequences of schema pez: row " + std::to_string(row) + " holds a value pezd cannot read");
        return;
      }
      sequences.push_back(std::move(info));
    }
    m_metrics.catalog_read(whole);
    if (whole) {
      m_catalog_hearing = m_hearing_at_read;
      m_catalog.replace(std::move(sequences), Clock::now(), read);
    } else {
      m_catalog.update(std::move(names), std::move(sequences), read);
    }
    if (m_events) m_events->store_catalog();
    connection_ready(slot);
  };
  if (whole) {
    conn->exec(k_catalog_sql, m_options.statement_timeout, std::move(done));
    return;
  }
  auto const list = array_literal(names);
  char const* params[] = {list.c_str()};
  conn->exec_params(k_entries_sql, params, m_options.statement_timeout, std::move(done));
}

void Database::connection_ready(Slot& slot) {
  slot.state = Slot::State::idle;
  slot.backoff = Millis{0};
  m_latest_attempt_failed = false;
  if (!m_was_up && m_catalog.loaded()) {
    spdlog::info("database up: connected to {} ({} sequences in schema pez)", m_server, m_catalog.all().size());
    m_was_up = true;
  }
  m_last_error.clear();
  became_free(slot);
}

void Database::forget_probe(Slot& slot) {
  slot.probe_channel.clear();
  slot.after_probe = nullptr;
  slot.probe_timer.cancel();
  if (slot.prober) slot.prober->close();
  slot.prober.reset();
  slot.hears_notices = false;
  slot.hearing_since = 0;
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

void Database::lost(Slot& slot, std::string const& message) {
  if (slot.conn) slot.conn->close();
  forget_probe(slot);
  slot.state = Slot::State::closed;
  slot.backoff = Millis{0};
  if (up()) {
    spdlog::warn("lost a database connection: {}; reconnecting", message);
  } else {
    spdlog::warn("lost the database connection: {}; reconnecting", message);
  }
  schedule_reconnect(slot);
}

bool Database::can_send() const {
  return std::ranges::any_of(m_slots,
                             [](auto const& slot) { return !slot->listener && slot->state == Slot::State::idle; });
}

Database::Slot& Database::lease() {
  for (auto& slot : m_slots) {
    if (!slot->listener && slot->state == Slot::State::idle) {
      slot->state = Slot::State::leased;
      return *slot;
    }
  }
  throw std::logic_error("Database::lease: no free connection (ask can_send() first)");
}

void Database::finish(Slot& slot, std::shared_ptr<PgConnection> const& conn, DbError const* failure,
                      std::move_only_function<void()> answer) {
  bool const current = slot.conn == conn && slot.state == Slot::State::leased && !m_stopped;
  if (failure != nullptr) {
    m_metrics.db_error(failure->kind == DbError::Kind::timeout ? Metrics::DbError::timeout
                       : failure->answered()                   ? Metrics::DbError::sql
                                                               : Metrics::DbError::connection);
  }
  bool const closing = current && failure != nullptr && closes_connection(*failure);
  if (closing) lost(slot, failure->message);
  answer();
  if (current && !closing && slot.conn == conn && slot.state == Slot::State::leased) {
    slot.state = Slot::State::idle;
    became_free(slot);
  }
}

template <typename T, typename Read>
PgConnection::ResultHandler Database::answer(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                                             std::move_only_function<void(std::expected<T, StoreError>)> handler,
                                             Read read) {
  return [this, &slot, conn, handler = std::move(handler),
          read = std::move(read)](std::expected<PgResults, DbError> result) mutable {
    if (!result) {
      auto const failure = result.error();
      finish(slot, conn, &failure, [&] { handler(std::unexpected(classify(failure))); });
      return;
    }
    std::expected<T, StoreError> answer = read(*result);
    // An answer pezd cannot read hands out nothing; the connection stays.
    DbError const odd{DbError::Kind::failed, answer ? std::string() : answer.error().message, {}, {}};
    finish(slot, conn, answer ? nullptr : &odd, [&] { handler(std::move(answer)); });
  };
}

void Database::take(std::string const& name, std::uint32_t count, TakeHandler handler) {
  Slot& slot = lease();
  std::string const sequence = qualified_sequence(name);
  std::string const n = std::to_string(count);
  char const* params[] = {sequence.c_str(), n.c_str()};
  auto const* info = m_catalog.find(name);
  bool const dated = info != nullptr && info->periodic;
  slot.conn->exec_params(dated ? k_take_dated_sql : k_take_sql, params, m_options.statement_timeout,
                         answer<Taken>(slot, slot.conn, std::move(handler), [count, dated](PgResults const& r) {
                           return dated ? take_answer(r, count) : take_rows_answer(r, count);
                         }));
}

void Database::reserve(std::string const& name, std::uint64_t count, ReserveHandler handler) {
  Slot& slot = lease();
  std::string const sequence = qualified_sequence(name);
  std::string const n = std::to_string(count);
  char const* params[] = {sequence.c_str(), n.c_str()};
  slot.conn->exec_params(k_reserve_sql, params, m_options.statement_timeout,
                         answer<Block>(slot, slot.conn, std::move(handler),
                                       [count](PgResults const& r) { return reserve_answer(r, count); }));
}

void Database::reserve_many(std::vector<ReserveAsk> const& asks, ReserveManyHandler handler) {
  Slot& slot = lease();
  std::vector<std::string> names;
  std::vector<std::uint64_t> counts;
  std::string count_list = "{";
  for (auto const& ask : asks) {
    names.push_back(ask.name);
    counts.push_back(ask.count);
    if (count_list.size() > 1) count_list += ',';
    count_list += std::to_string(ask.count);
  }
  count_list += '}';
  auto const name_list = array_literal(names);
  char const* params[] = {name_list.c_str(), count_list.c_str()};
  slot.conn->exec_params(k_reserve_many_sql, params, m_options.statement_timeout,
                         answer<std::vector<Block>>(slot, slot.conn, std::move(handler), [counts](PgResults const& r) {
                           return reserve_many_answer(r, counts);
                         }));
}

void Database::change(Change const& change, ChangeHandler handler) {
  Slot& slot = lease();
  std::vector<std::optional<std::string>> values;
  char const* sql = k_drop_sql;
  if (change.op == Change::Op::create) {
    auto const& spec = change.spec;
    values = {spec.name,
              std::to_string(spec.start),
              std::to_string(spec.min),
              std::to_string(spec.max),
              std::to_string(spec.increment),
              std::string(spec.cycle ? "true" : "false"),
              spec.mode,
              spec.description,
              spec.format,
              spec.period,
              spec.time_zone,
              spec.check};
    sql = k_create_sql;
  } else if (change.op == Change::Op::reset) {
    values = {change.name, change.to ? std::optional(std::to_string(*change.to)) : std::nullopt};
    sql = k_reset_sql;
  } else {
    values = {change.name};
  }
  std::vector<char const*> params;
  for (auto const& v : values) params.push_back(v ? v->c_str() : nullptr);
  bool const drop = change.op == Change::Op::drop;
  slot.conn->exec_params(sql, params, m_options.statement_timeout,
                         answer<std::int64_t>(slot, slot.conn, std::move(handler),
                                              [drop](PgResults const& r) { return change_answer(r, drop); }));
}

void Database::describe(std::string const& name, DescribeHandler handler) {
  Slot& slot = lease();
  char const* params[] = {name.empty() ? nullptr : name.c_str()};
  slot.conn->exec_params(k_list_sql, params, m_options.statement_timeout,
                         answer<std::vector<SequenceRow>>(slot, slot.conn, std::move(handler), describe_answer));
}

void Database::became_free(Slot& slot) {
  // Whoever ran before this may have leased the connection again.
  if (slot.state != Slot::State::idle) return;
  bool const reader = m_listener == nullptr || slot.listener;
  if (reader && catalog_read_wanted() && m_reads_running == 0) {
    slot.state = Slot::State::leased;
    run_catalog_refresh(slot);
    return;
  }
  if (!slot.listener && m_failover_due) {
    run_failover_check(slot);
    return;
  }
  if (!slot.listener && m_usage_due) {
    run_usage_read(slot);
    return;
  }
  if (!slot.listener && m_events) m_events->store_available();
}

std::uint64_t Database::refresh_catalog() {
  m_refresh_wanted = true;
  m_entries_wanted.clear();
  return start_catalog_read();
}

std::uint64_t Database::refresh_entry(std::string const& name) {
  if (!m_refresh_wanted) m_entries_wanted.insert(name);
  return start_catalog_read();
}

std::uint64_t Database::start_catalog_read() {
  // The next read to start: a running one started before this call.
  auto const next = m_reads_started + 1;
  if (m_reads_running > 0) return next;
  for (auto& slot : m_slots) {
    if (slot->state == Slot::State::idle && (m_listener == nullptr || slot->listener)) {
      slot->state = Slot::State::leased;
      run_catalog_refresh(*slot);
      return next;
    }
  }
  return next;
}

}  // namespace pez::daemon
