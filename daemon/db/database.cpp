// SPDX-License-Identifier: Apache-2.0
// Database's connections and the core's statements on them: which connection is free, take,
// reserve and change, and what a failed exchange does to its connection. Connections are set up
// in database_setup.cpp, the catalog read in database_catalog.cpp.
#include "daemon/db/database.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <utility>

#include "common/count.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/db/database_slot.hpp"
#include "daemon/ops/log_throttle.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {
namespace {

constexpr char const k_create_sql[] =
    "SELECT pez.create_sequence($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::boolean, $7, $8, $9, $10,"
    " $11, $12)";
constexpr char const k_reset_sql[] = "SELECT pez.reset_sequence($1, $2::bigint)";
constexpr char const k_drop_sql[] = "SELECT pez.drop_sequence($1)";

}  // namespace

Database::Database(boost::asio::io_context& io, Options options, Metrics& metrics)
    : m_io(io),
      m_options(std::move(options)),
      m_metrics(metrics),
      m_block_used(m_options.block_default),
      m_catalog_read_timer(io),
      m_lookup_timer(io),
      m_failover_timer(io),
      m_usage_timer(io),
      m_usage_daemon(usage_daemon_name()) {
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
  // A read that waits to start was counted as running (defer_catalog_read).
  if (m_catalog_read_timer.cancel() > 0) --m_reads_running;
  m_lookup_timer.cancel();
  for (auto& slot : m_slots) {
    slot->retry.cancel();
    forget_probe(*slot);
    if (slot->conn) slot->conn->close();
    slot->conn.reset();
    slot->state = Slot::State::closed;
  }
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
  // A probe that could not send its notice proved nothing: a pool or a limit without room for its
  // second connection, not a transaction pooler.
  auto unsent = [](Slot const& s, char const* where) {
    return std::string("whether change notices arrive on ") + where + " is not known: a probe could not send one (" +
           s.probe_unsent +
           "); it sends it on a second connection, for which a connection limit or a pooler's pool (pool_size, in "
           "session mode) must leave room; it is tried again";
  };
  // A connection whose notice did not arrive is probed again once block mode is used (probed).
  auto again = [this] {
    return std::string(m_block_used ? " (probed again now and then, block mode serves once they arrive)" : "");
  };
  if (m_listener != nullptr) {
    if (!up(*m_listener) || m_listener->hears_notices) return std::nullopt;
    if (!m_listener->probe_unsent.empty()) return unsent(*m_listener, "the connection of listen_database_url");
    return "change notices do not arrive on the connection of listen_database_url either (is it a "
           "transaction pooler too?); point listen_database_url straight at the database" +
           again();
  }
  for (auto const& slot : m_slots) {
    if (up(*slot) && !slot->hears_notices) {
      if (!slot->probe_unsent.empty()) {
        return unsent(*slot, "the database connections") +
               ", or set listen_database_url to a direct connection to the database, or serve in strict mode";
      }
      return "change notices do not arrive on the database connections (a connection pooler in "
             "transaction mode, such as PgBouncer?); set listen_database_url to a direct connection "
             "to the database, or serve in strict mode" +
             again();
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

namespace {

// The names and the counts of several asks as array literals ($1 and $2 of k_reserve_many_sql
// and k_take_many_sql), and the counts.
template <typename Ask>
struct AskLists {
  std::string names;
  std::string counts;
  std::vector<decltype(Ask::count)> each;
};

template <typename Ask>
AskLists<Ask> ask_lists(std::vector<Ask> const& asks) {
  AskLists<Ask> out;
  std::vector<std::string> names;
  out.counts = "{";
  for (auto const& ask : asks) {
    names.push_back(ask.name);
    out.each.push_back(ask.count);
    if (out.counts.size() > 1) out.counts += ',';
    out.counts += std::to_string(ask.count);
  }
  out.counts += '}';
  out.names = array_literal(names);
  return out;
}

}  // namespace

void Database::reserve_many(std::vector<ReserveAsk> const& asks, ReserveManyHandler handler) {
  Slot& slot = lease();
  auto lists = ask_lists(asks);
  char const* params[] = {lists.names.c_str(), lists.counts.c_str()};
  slot.conn->exec_params(k_reserve_many_sql, params, m_options.statement_timeout,
                         answer<std::vector<ReserveResult>>(slot, slot.conn, std::move(handler),
                                                            [counts = std::move(lists.each)](PgResults const& r) {
                                                              return reserve_many_answer(r, counts);
                                                            }));
}

void Database::take_many(std::vector<TakeAsk> const& asks, TakeManyHandler handler) {
  Slot& slot = lease();
  auto lists = ask_lists(asks);
  char const* params[] = {lists.names.c_str(), lists.counts.c_str()};
  slot.conn->exec_params(k_take_many_sql, params, m_options.statement_timeout,
                         answer<std::vector<TakeResult>>(slot, slot.conn, std::move(handler),
                                                         [counts = std::move(lists.each)](PgResults const& r) {
                                                           return take_many_answer(r, counts);
                                                         }));
}

namespace {

// The arguments of pez.create_sequence for a create, in its order (k_create_sql's $1 to $12).
std::vector<std::optional<std::string>> create_arguments(CreateSpec const& spec) {
  return {spec.name,
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
}

}  // namespace

void Database::change(Change const& change, ChangeHandler handler) {
  Slot& slot = lease();
  std::vector<std::optional<std::string>> values;
  char const* sql = k_drop_sql;
  if (change.op == Change::Op::create) {
    values = create_arguments(change.spec);
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
  slot.conn->exec_params(sql, params, m_options.admin_timeout,
                         answer<std::int64_t>(slot, slot.conn, std::move(handler),
                                              [drop](PgResults const& r) { return change_answer(r, drop); }));
}

void Database::create_many(std::vector<CreateSpec> const& specs, CreateManyHandler handler) {
  Slot& slot = lease();
  // Each create's arguments as a JSON array of strings and nulls, which the function casts as
  // k_create_sql does.
  auto all = nlohmann::json::array();
  for (auto const& spec : specs) {
    auto one = nlohmann::json::array();
    for (auto const& value : create_arguments(spec)) {
      if (value) {
        one.push_back(*value);
      } else {
        one.push_back(nullptr);
      }
    }
    all.push_back(std::move(one));
  }
  auto const text = all.dump();
  char const* params[] = {text.c_str()};
  auto const count = specs.size();
  slot.conn->exec_params(
      k_create_many_sql, params, m_options.admin_timeout,
      answer<std::vector<ChangeResult>>(slot, slot.conn, std::move(handler),
                                        [count](PgResults const& r) { return create_many_answer(r, count); }));
}

void Database::became_free(Slot& slot) {
  // Whoever ran before this may have leased the connection again.
  if (slot.state != Slot::State::idle) return;
  bool const reader = listens(slot);
  if (reader && catalog_read_wanted() && m_reads_running == 0) {
    slot.state = Slot::State::leased;
    defer_catalog_read(slot);
    return;
  }
  if (slot.reprobe_due) {
    reprobe(slot);
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

}  // namespace pez::daemon
