#include "daemon/admin.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/admin.hpp"
#include "common/count.hpp"
#include "common/sequence.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/allocator.hpp"
#include "daemon/database.hpp"

namespace pez::daemon {
namespace {

using namespace std::chrono_literals;
using ordered_json = nlohmann::ordered_json;

constexpr auto k_sweep_every = 100ms;

// Every sequence of schema pez ($1 NULL) or one, with its settings, state and catalog entry.
constexpr char const k_list_sql[] =
    "SELECT s.sequencename::text, s.increment_by, s.min_value, s.max_value, s.start_value, s.cycle,"
    " st.last_value, st.is_called, c.mode, coalesce(c.description, ''), coalesce(c.generation, 0),"
    " to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " to_char(c.reset_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " (SELECT count(*) FROM pg_catalog.pg_stat_activity"
    "   WHERE datname = current_database() AND application_name = 'pezd')"
    " FROM pg_catalog.pg_sequences s"
    " LEFT JOIN pez.sequences c ON c.name = s.sequencename::text"
    " CROSS JOIN LATERAL pez.sequence_state(s.sequencename::text) st"
    " WHERE s.schemaname = 'pez' AND s.sequencename::text ~ '^[a-z][a-z0-9_-]{0,47}$'"
    "   AND ($1::text IS NULL OR s.sequencename::text = $1)"
    " ORDER BY 1";

constexpr char const k_create_sql[] =
    "SELECT pez.create_sequence($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::boolean, $7, $8)";
constexpr char const k_reset_sql[] = "SELECT pez.reset_sequence($1, $2::bigint)";
constexpr char const k_drop_sql[] = "SELECT pez.drop_sequence($1)";

// The server's sentence alone, without "ERROR:" before it and the PL/pgSQL context after it.
std::string without_severity(std::string message) {
  for (std::string_view prefix : {"ERROR:", "FATAL:"}) {
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
  }
  if (auto context = message.find("CONTEXT:"); context != std::string::npos) message.erase(context);
  auto const first = message.find_first_not_of(' ');
  auto const last = message.find_last_not_of(' ');
  return first == std::string::npos ? message : message.substr(first, last - first + 1);
}

Error admin_error(AdminCommand const& command, DbError const& error) {
  if (error.kind != DbError::Kind::sql) return unavailable_error(error.message);
  auto const message = without_severity(error.message);
  if (error.sqlstate == "42P01") return Error{Errc::not_found, "no sequence named " + quote_untrusted(command.name)};
  if (error.sqlstate == "42P07") {
    return Error{Errc::conflict, "sequence " + quote_untrusted(command.name) +
                                     " exists already; choose another name, or drop it first"};
  }
  if (error.sqlstate == "55006") return Error{Errc::conflict, message};
  if (error.sqlstate == "22023") return Error{Errc::bad_request, message};
  if (error.sqlstate == "42501") {
    return Error{Errc::denied, "pezd's database role may not do this (" + message +
                                   "); a database owner can run it, or grant the rights listed in "
                                   "sql/003_admin.sql"};
  }
  spdlog::error("admin command on {} failed: {} (SQLSTATE {})", command.name, message, error.sqlstate);
  return Error{Errc::internal, "the database refused: " + message};
}

std::int64_t int_at(PGresult const* r, int row, int column) {
  std::int64_t v = 0;
  parse_int64(PQgetvalue(r, row, column), v);
  return v;
}

ordered_json text_or_null(PGresult const* r, int row, int column) {
  if (PQgetisnull(r, row, column)) return nullptr;
  return PQgetvalue(r, row, column);
}

ordered_json describe_row(PGresult const* r, int row, Allocator const& allocator, bool block_default) {
  SequenceShape shape;
  shape.increment = int_at(r, row, 1);
  shape.min = int_at(r, row, 2);
  shape.max = int_at(r, row, 3);
  shape.start = int_at(r, row, 4);
  shape.cycle = std::string_view(PQgetvalue(r, row, 5)) == "t";
  auto const last_value = int_at(r, row, 6);
  bool const called = std::string_view(PQgetvalue(r, row, 7)) == "t";
  auto const view = outlook(shape, last_value, called);
  std::string const name = PQgetvalue(r, row, 0);

  ordered_json out;
  out["name"] = name;
  out["direction"] = shape.increment > 0 ? "ascending" : "descending";
  out["increment"] = shape.increment;
  out["start"] = shape.start;
  out["min"] = shape.min;
  out["max"] = shape.max;
  out["cycle"] = shape.cycle;
  bool const own_mode = !PQgetisnull(r, row, 8);
  out["mode"] = own_mode ? std::string(PQgetvalue(r, row, 8)) : std::string(block_default ? "block" : "strict");
  out["mode_from"] = own_mode ? "sequence" : "daemon";
  out["description"] = PQgetvalue(r, row, 9);
  out["last_value"] = called ? ordered_json(last_value) : ordered_json(nullptr);
  out["next"] = view.next ? ordered_json(*view.next) : ordered_json(nullptr);
  out["left"] = view.left;
  out["used"] = static_cast<double>(static_cast<long long>(view.used * 1e6)) / 1e6;
  out["exhausted"] = !view.next.has_value();
  out["generation"] = int_at(r, row, 10);
  out["created_at"] = text_or_null(r, row, 11);
  out["reset_at"] = text_or_null(r, row, 12);
  out["reserved_here"] = allocator.reserved(name);
  out["pezd_connections"] = int_at(r, row, 13);
  return out;
}

}  // namespace

Admin::Admin(boost::asio::io_context& io, Database& db, Allocator& allocator, std::chrono::milliseconds timeout,
             bool block_default)
    : m_db(db), m_allocator(allocator), m_timeout(timeout), m_block_default(block_default), m_sweep(io) {
  // Admin commands are rare and short: they go first when a connection comes free.
  m_db.on_available = [this, numbers = std::move(m_db.on_available)] {
    pump();
    if (numbers) numbers();
  };
}

Admin::~Admin() { m_db.on_available = nullptr; }

void Admin::run(AdminCommand command, AdminHandler handler) {
  if (command.op == AdminCommand::Op::create) {
    auto spec = parse_create_spec(command.spec);
    if (!spec) {
      handler(std::unexpected(Error{Errc::bad_request, spec.error()}));
      return;
    }
    command.name = spec->name;
  }
  if (m_db.down()) {
    handler(std::unexpected(unavailable_error(m_db.last_error())));
    return;
  }
  m_queue.push_back(Job{std::move(command), std::move(handler), Clock::now() + m_timeout});
  pump();
  if (!m_queue.empty()) arm_sweep();
}

void Admin::pump() {
  while (!m_queue.empty()) {
    auto conn = m_db.lease();
    if (!conn) return;
    auto job = std::make_shared<Job>(std::move(m_queue.front()));
    m_queue.pop_front();
    start(std::move(job), std::move(conn));
  }
}

void Admin::arm_sweep() {
  if (m_sweep_armed) return;
  m_sweep_armed = true;
  m_sweep.expires_after(k_sweep_every);
  m_sweep.async_wait([this](boost::system::error_code ec) {
    m_sweep_armed = false;
    if (ec) return;
    auto const now = Clock::now();
    std::deque<Job> late;
    while (!m_queue.empty() && m_queue.front().deadline <= now) {
      late.push_back(std::move(m_queue.front()));
      m_queue.pop_front();
    }
    for (auto& job : late) {
      job.handler(std::unexpected(unavailable_error("no free database connection within " +
                                                    settings::format_duration(m_timeout))));
    }
    if (!m_queue.empty()) arm_sweep();
  });
}

void Admin::finish(std::shared_ptr<Job> const& job, std::shared_ptr<PgConnection> const& conn, DbError const* failure,
                   AdminResult result) {
  m_db.give_back(conn, failure);
  job->handler(std::move(result));
}

void Admin::start(std::shared_ptr<Job> job, std::shared_ptr<PgConnection> conn) {
  auto const& command = job->command;
  using Op = AdminCommand::Op;
  if (command.op == Op::list || command.op == Op::inspect) {
    describe(std::move(job), std::move(conn), 200);
    return;
  }
  // Changes: the statement, then (create, reset) the sequence as it is now.
  std::vector<std::string> values;
  std::vector<bool> null;
  auto add = [&](std::optional<std::string> v) {
    null.push_back(!v.has_value());
    values.push_back(v.value_or(""));
  };
  char const* sql = nullptr;
  if (command.op == Op::create) {
    auto const spec = *parse_create_spec(command.spec);
    add(spec.name);
    add(std::to_string(spec.start));
    add(std::to_string(spec.min));
    add(std::to_string(spec.max));
    add(std::to_string(spec.increment));
    add(spec.cycle ? "true" : "false");
    add(spec.mode);
    add(spec.description);
    sql = k_create_sql;
  } else if (command.op == Op::reset) {
    add(command.name);
    add(command.to ? std::optional(std::to_string(*command.to)) : std::nullopt);
    sql = k_reset_sql;
  } else {
    add(command.name);
    sql = k_drop_sql;
  }
  std::vector<char const*> params;
  for (std::size_t i = 0; i < values.size(); ++i) params.push_back(null[i] ? nullptr : values[i].c_str());
  conn->exec_params(sql, params, m_timeout, [this, job, conn](std::expected<PgResults, DbError> result) {
    auto const& done = job->command;
    if (!result) {
      auto const failure = result.error();
      finish(job, conn, &failure, std::unexpected(admin_error(done, failure)));
      return;
    }
    std::int64_t generation = 0;
    if (done.op != Op::drop) {
      auto const* rows = result->empty() ? nullptr : result->back().get();
      if (rows == nullptr || PQntuples(rows) != 1 || !parse_int64(PQgetvalue(rows, 0, 0), generation)) {
        DbError const odd{DbError::Kind::sql, {}, "unexpected answer"};
        finish(job, conn, &odd, std::unexpected(Error{Errc::internal, "the database gave an answer pezd cannot read"}));
        return;
      }
    }
    static constexpr char const* k_done[] = {"", "", "created", "reset", "dropped"};
    spdlog::info("sequence {} {} (generation {})", done.name, k_done[static_cast<int>(done.op)], generation);
    // This daemon need not wait for the notice: its reserve goes now.
    m_allocator.sequence_changed(done.name, generation);
    if (done.op == Op::drop) {
      ordered_json out;
      out["dropped"] = done.name;
      finish(job, conn, nullptr, AdminAnswer{200, out.dump()});
      return;
    }
    describe(job, conn, done.op == Op::create ? 201 : 200);
  });
}

void Admin::describe(std::shared_ptr<Job> job, std::shared_ptr<PgConnection> conn, unsigned status) {
  bool const all = job->command.op == AdminCommand::Op::list;
  char const* params[] = {all ? nullptr : job->command.name.c_str()};
  conn->exec_params(k_list_sql, params, m_timeout, [this, job, conn, all, status](std::expected<PgResults, DbError> result) {
    if (!result) {
      auto const failure = result.error();
      finish(job, conn, &failure, std::unexpected(admin_error(job->command, failure)));
      return;
    }
    auto const* rows = result->empty() ? nullptr : result->back().get();
    int const n = rows == nullptr ? 0 : PQntuples(rows);
    if (all) {
      auto list = ordered_json::array();
      for (int row = 0; row < n; ++row) list.push_back(describe_row(rows, row, m_allocator, m_block_default));
      finish(job, conn, nullptr, AdminAnswer{status, list.dump()});
      return;
    }
    if (n != 1) {
      finish(job, conn, nullptr,
             std::unexpected(Error{Errc::not_found, "no sequence named " + quote_untrusted(job->command.name)}));
      return;
    }
    finish(job, conn, nullptr, AdminAnswer{status, describe_row(rows, 0, m_allocator, m_block_default).dump()});
  });
}

}  // namespace pez::daemon
