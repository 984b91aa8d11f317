#include "daemon/database.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

#include "common/count.hpp"
#include "common/settings.hpp"
#include "daemon/metrics.hpp"
#include "daemon/migrations.hpp"

#ifndef PEZ_SQL_DIR
#define PEZ_SQL_DIR "/usr/share/pez/sql"
#endif

namespace pez::daemon {
namespace {

// Commits must be durable (and reach a synchronous standby) before a number counts, whatever
// the server or role default is; remote_apply is stronger still and is kept.
constexpr char const k_session_sql[] =
    "SELECT set_config('synchronous_commit', 'on', false)"
    " WHERE current_setting('synchronous_commit') NOT IN ('on', 'remote_apply');"
    "SELECT pg_is_in_recovery(), current_user, current_database(),"
    " to_regclass('pez.schema_migrations') IS NOT NULL";

// Only once the server is known not to be a standby: one in recovery refuses LISTEN.
constexpr char const k_listen_sql[] = "LISTEN pez_sequences";

constexpr char const k_version_sql[] = "SELECT coalesce(max(version), 0) FROM pez.schema_migrations";

constexpr char const k_catalog_sql[] =
    "SELECT s.sequencename::text, s.increment_by, s.min_value, s.max_value, s.start_value, s.cycle,"
    " c.mode, coalesce(c.generation, 0)"
    " FROM pg_catalog.pg_sequences s LEFT JOIN pez.sequences c ON c.name = s.sequencename::text"
    " WHERE s.schemaname = 'pez' AND s.sequencename::text ~ '^[a-z][a-z0-9_-]{0,47}$' ORDER BY 1";

std::string value(PgResults const& results, std::size_t which, int row, int column) {
  if (which >= results.size()) return {};
  auto* r = results[which].get();
  if (row >= PQntuples(r) || column >= PQnfields(r) || PQgetisnull(r, row, column)) return {};
  return PQgetvalue(r, row, column);
}

std::int64_t int_value(PgResult const& result, int row, int column) {
  std::int64_t v = 0;
  parse_int64(PQgetvalue(result.get(), row, column), v);
  return v;
}

}  // namespace

struct Database::Slot {
  explicit Slot(boost::asio::io_context& io, int i) : retry(io), index(i) {}
  enum class State { closed, connecting, setting_up, idle, leased, waiting };
  std::shared_ptr<PgConnection> conn;
  State state = State::closed;
  Millis backoff{0};
  boost::asio::steady_timer retry;
  int index;
};

Database::Database(boost::asio::io_context& io, Options options, Metrics& metrics)
    : m_io(io), m_options(std::move(options)), m_metrics(metrics) {
  for (int i = 0; i < m_options.connections; ++i) m_slots.push_back(std::make_unique<Slot>(io, i));
}

Database::~Database() { stop(); }

void Database::start() {
  m_stopped = false;
  for (auto& slot : m_slots) connect(*slot);
}

void Database::stop() {
  m_stopped = true;
  for (auto& slot : m_slots) {
    slot->retry.cancel();
    if (slot->conn) slot->conn->close();
    slot->conn.reset();
    slot->state = Slot::State::closed;
  }
}

bool Database::catalog_stale() const { return m_refresh_wanted || m_refresh_running; }

bool Database::up() const { return connections_up() > 0; }

bool Database::down() const { return !up() && m_latest_attempt_failed; }

int Database::connections_up() const {
  return static_cast<int>(std::ranges::count_if(m_slots, [](auto const& s) {
    return s->state == Slot::State::idle || s->state == Slot::State::leased;
  }));
}

Database::Slot* Database::slot_of(std::shared_ptr<PgConnection> const& conn) {
  for (auto& slot : m_slots) {
    if (slot->conn == conn) return slot.get();
  }
  return nullptr;
}

void Database::connect(Slot& slot) {
  if (m_stopped) return;
  auto conn = PgConnection::create(m_io);
  slot.conn = conn;
  slot.state = Slot::State::connecting;
  conn->on_notify([this](std::string_view channel, std::string_view payload) {
    if (channel != k_change_channel) return;
    auto const space = payload.rfind(' ');
    if (space == std::string_view::npos) return;
    std::string const name(payload.substr(0, space));
    std::int64_t generation = 0;
    if (payload.substr(space + 1) != "dropped" && !parse_int64(payload.substr(space + 1), generation)) return;
    spdlog::info("sequence {} {}", name, generation == 0 ? "was dropped" : "was created or reset");
    if (on_change) on_change(name, generation);
  });
  conn->on_lost([this, &slot, weak = std::weak_ptr(conn)](DbError const& error) {
    if (slot.conn != weak.lock()) return;
    lost(slot, error.message);
  });
  conn->connect(m_options.params, m_options.connect_timeout,
                [this, &slot, conn](std::expected<void, DbError> result) {
                  if (slot.conn != conn || m_stopped) return;
                  m_metrics.db_connect(result.has_value());
                  if (!result) {
                    setup_failed(slot, conn, result.error().message);
                    return;
                  }
                  setup(slot, conn);
                });
}

void Database::setup(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  slot.state = Slot::State::setting_up;
  conn->exec(k_session_sql, m_options.statement_timeout,
             [this, &slot, conn](std::expected<PgResults, DbError> result) {
               if (slot.conn != conn || m_stopped) return;
               if (!result) {
                 setup_failed(slot, conn, result.error().message);
                 return;
               }
               if (value(*result, 1, 0, 0) == "t") {
                 setup_failed(slot, conn,
                              "the server at " + conn->server() +
                                  " is in recovery (a standby) and cannot hand out numbers; point pezd at "
                                  "the primary, or list every host and add target_session_attrs=read-write "
                                  "to database_url");
                 return;
               }
               m_server = conn->server() + " as " + value(*result, 1, 0, 1) + " on " + value(*result, 1, 0, 2);
               bool const has_schema = value(*result, 1, 0, 3) == "t";
               conn->exec(k_listen_sql, m_options.statement_timeout,
                          [this, &slot, conn, has_schema](std::expected<PgResults, DbError> listening) {
                            if (slot.conn != conn || m_stopped) return;
                            if (!listening) {
                              setup_failed(slot, conn, listening.error().message);
                              return;
                            }
                            if (has_schema) {
                              read_version(slot, conn);
                            } else {
                              migrate(slot, conn, 0);
                            }
                          });
             });
}

void Database::read_version(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  conn->exec(k_version_sql, m_options.statement_timeout,
             [this, &slot, conn](std::expected<PgResults, DbError> version) {
               if (slot.conn != conn || m_stopped) return;
               if (!version) {
                 setup_failed(slot, conn, version.error().message);
                 return;
               }
               std::int64_t current = 0;
               parse_int64(value(*version, 0, 0, 0), current);
               migrate(slot, conn, static_cast<int>(current));
             });
}

void Database::migrate(Slot& slot, std::shared_ptr<PgConnection> const& conn, int from_version) {
  auto const all = migrations();
  auto next = std::ranges::find_if(all, [from_version](Migration const& m) { return m.version > from_version; });
  if (next == all.end()) {
    finish_setup(slot, conn);
    return;
  }
  Migration const migration = *next;
  conn->exec(std::string(migration.sql), m_options.statement_timeout,
             [this, &slot, conn, migration](std::expected<PgResults, DbError> result) {
               if (slot.conn != conn || m_stopped) return;
               if (!result) {
                 auto const& error = result.error();
                 std::string message = "cannot apply sql/" + std::string(migration.file) + ": " + error.message;
                 if (error.sqlstate == "42501") {
                   message = "the pez schema is missing or older than this pezd, and the database role may "
                             "not create it (" +
                             error.message + "); run " PEZ_SQL_DIR "/" + std::string(migration.file) +
                             " as the database owner (psql -v ON_ERROR_STOP=1 -f FILE) and grant pezd's role "
                             "the rights listed at the top of that file";
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
  conn->prepare(k_take_statement, k_take_sql, m_options.statement_timeout,
                [this, &slot, conn](std::expected<PgResults, DbError> prepared) {
                  if (slot.conn != conn || m_stopped) return;
                  if (!prepared) {
                    setup_failed(slot, conn, prepared.error().message);
                    return;
                  }
                  conn->prepare(k_reserve_statement, k_reserve_sql, m_options.statement_timeout,
                                [this, &slot, conn](std::expected<PgResults, DbError> reserve) {
                                  if (slot.conn != conn || m_stopped) return;
                                  if (!reserve) {
                                    setup_failed(slot, conn, reserve.error().message);
                                    return;
                                  }
                                  slot.state = Slot::State::leased;  // the catalog read runs on it
                                  run_catalog_refresh(slot);
                                });
                });
}

void Database::run_catalog_refresh(Slot& slot) {
  auto conn = slot.conn;
  m_refresh_wanted = false;
  m_refresh_running = true;
  conn->exec(k_catalog_sql, m_options.statement_timeout, [this, &slot, conn](std::expected<PgResults, DbError> result) {
    m_refresh_running = false;
    if (slot.conn != conn || m_stopped) return;
    if (!result) {
      m_refresh_wanted = true;
      if (result.error().kind == DbError::Kind::sql) {
        setup_failed(slot, conn, "cannot read the sequences of schema pez: " + result.error().message);
      } else {
        lost(slot, result.error().message);
      }
      return;
    }
    std::vector<SequenceInfo> sequences;
    auto const& rows = result->front();
    for (int row = 0; row < PQntuples(rows.get()); ++row) {
      SequenceInfo info;
      info.name = PQgetvalue(rows.get(), row, 0);
      info.increment = int_value(rows, row, 1);
      info.min = int_value(rows, row, 2);
      info.max = int_value(rows, row, 3);
      info.start = int_value(rows, row, 4);
      info.cycle = std::string_view(PQgetvalue(rows.get(), row, 5)) == "t";
      if (!PQgetisnull(rows.get(), row, 6)) info.block = std::string_view(PQgetvalue(rows.get(), row, 6)) == "block";
      info.generation = int_value(rows, row, 7);
      sequences.push_back(std::move(info));
    }
    m_catalog.replace(std::move(sequences), Clock::now());
    slot.state = Slot::State::idle;
    slot.backoff = Millis{0};
    m_latest_attempt_failed = false;
    if (!m_was_up) {
      spdlog::info("database up: connected to {} ({} sequences in schema pez)", m_server, m_catalog.all().size());
    }
    m_was_up = true;
    m_last_error.clear();
    if (on_catalog) on_catalog();
    became_free(slot);
  });
}

void Database::setup_failed(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& message) {
  conn->close();
  slot.state = Slot::State::closed;
  note_failure(message);
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
  if (on_down) on_down(DbError{DbError::Kind::connection, {}, message});
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
  slot.state = Slot::State::closed;
  slot.backoff = Millis{0};
  if (up()) {
    spdlog::warn("lost a database connection: {}; reconnecting", message);
  } else {
    spdlog::warn("lost the database connection: {}; reconnecting", message);
  }
  schedule_reconnect(slot);
}

std::shared_ptr<PgConnection> Database::lease() {
  for (auto& slot : m_slots) {
    if (slot->state == Slot::State::idle) {
      slot->state = Slot::State::leased;
      return slot->conn;
    }
  }
  return nullptr;
}

void Database::give_back(std::shared_ptr<PgConnection> const& conn, DbError const* failure) {
  Slot* slot = slot_of(conn);
  if (slot == nullptr || slot->state != Slot::State::leased) return;
  if (failure != nullptr && failure->kind != DbError::Kind::sql) {
    m_metrics.db_error(failure->kind == DbError::Kind::timeout ? Metrics::DbError::timeout
                                                               : Metrics::DbError::connection);
    lost(*slot, failure->message);
    return;
  }
  if (failure != nullptr) m_metrics.db_error(Metrics::DbError::sql);
  slot->state = Slot::State::idle;
  became_free(*slot);
}

void Database::became_free(Slot& slot) {
  // Whoever ran before this (such as on_catalog) may have leased the connection again.
  if (slot.state != Slot::State::idle) return;
  if (m_refresh_wanted && !m_refresh_running) {
    slot.state = Slot::State::leased;
    run_catalog_refresh(slot);
    return;
  }
  if (on_available) on_available();
}

void Database::refresh_catalog() {
  m_refresh_wanted = true;
  if (m_refresh_running) return;
  for (auto& slot : m_slots) {
    if (slot->state == Slot::State::idle) {
      slot->state = Slot::State::leased;
      run_catalog_refresh(*slot);
      return;
    }
  }
}

}  // namespace pez::daemon
