#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/count.hpp"
#include "common/text.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sources.hpp"

namespace pez::daemon {
namespace {

// Most numbers one statement takes for several waiting requests.
constexpr std::uint32_t k_max_batch = 20000;

}  // namespace

Error sequence_error(std::string const& name, DbError const& error) {
  if (error.sqlstate == "42P01" || error.sqlstate == "42809" || error.sqlstate == "3F000") {
    return Error{Errc::not_found, "no sequence named " + quote_untrusted(name)};
  }
  if (error.sqlstate == "2200H") {
    return Error{Errc::exhausted, "sequence " + quote_untrusted(name) +
                                      " has handed out its last number and does not cycle; reset it to hand out "
                                      "numbers again"};
  }
  spdlog::error("taking numbers from {} failed: {} (SQLSTATE {})", name, error.message, error.sqlstate);
  return Error{Errc::internal, "the database refused to hand out numbers: " + error.message};
}

std::size_t StrictSource::pending() const {
  std::size_t n = m_queue.size();
  for (auto const& batch : m_in_flight) {
    for (auto const& request : batch->requests) n += request.answered() ? 0 : 1;
  }
  return n;
}

void StrictSource::take(Request request) {
  m_queue.push_back(std::move(request));
  pump();
  m_ctx.wake();
}

void StrictSource::pump() {
  // One statement at a time per sequence: requests that arrive meanwhile wait and go together in
  // the next one, so a daemon hands out numbers in the order their requests arrived.
  auto busy = [this](std::string const& name) {
    return std::ranges::any_of(m_in_flight, [&](auto const& batch) { return batch->name == name; });
  };
  for (;;) {
    auto next = std::ranges::find_if(m_queue, [&](Request const& r) { return !busy(r.name); });
    if (next == m_queue.end()) return;
    auto conn = m_ctx.db.lease();
    if (!conn) return;
    auto batch = std::make_shared<Batch>();
    batch->name = next->name;
    batch->conn = std::move(conn);
    for (auto it = next; it != m_queue.end();) {
      if (it->name == batch->name && batch->total + it->count <= k_max_batch) {
        batch->total += it->count;
        batch->requests.push_back(std::move(*it));
        it = m_queue.erase(it);
      } else {
        ++it;
      }
    }
    run(batch);
  }
}

void StrictSource::run(std::shared_ptr<Batch> const& batch) {
  std::string const sequence = qualified_sequence(batch->name);
  std::string const count = std::to_string(batch->total);
  char const* params[] = {sequence.c_str(), count.c_str()};
  m_in_flight.push_back(batch);
  m_ctx.metrics.db_round_trip();
  batch->conn->exec_prepared(k_take_statement, params, m_ctx.timeout,
                             [this, batch](std::expected<PgResults, DbError> result) {
                               finish(batch, std::move(result));
                             });
}

void StrictSource::finish(std::shared_ptr<Batch> const& batch, std::expected<PgResults, DbError> result) {
  std::erase(m_in_flight, batch);
  auto answer_all = [&](Error const& error) {
    for (auto& request : batch->requests) {
      if (!request.answered()) request.answer(std::unexpected(error));
    }
  };
  if (!result) {
    auto const& error = result.error();
    if (error.kind == DbError::Kind::connection) {
      // Whatever this exchange took is burned; its requests try again on another connection.
      m_ctx.db.give_back(batch->conn, &error);
      requeue(*batch);
    } else if (error.kind == DbError::Kind::timeout) {
      m_ctx.db.give_back(batch->conn, &error);
      answer_all(unavailable_error(error.message));
    } else if (error.sqlstate == "25006") {
      DbError const standby{DbError::Kind::connection, error.sqlstate,
                            "the server became read-only (a standby?): " + error.message};
      m_ctx.db.give_back(batch->conn, &standby);
      requeue(*batch);
    } else {
      m_ctx.db.give_back(batch->conn, &error);
      if (error.sqlstate == "01000") {
        requeue(*batch);  // a warning: the exchange is not trusted, its numbers are burned
      } else {
        auto const answer = sequence_error(batch->name, error);
        if (answer.code == Errc::exhausted) m_ctx.observed(batch->name, 0, true);
        if (answer.code == Errc::not_found) m_ctx.db.refresh_catalog();
        answer_all(answer);
      }
    }
    if (m_ctx.db.down()) database_down(unavailable_error(m_ctx.db.last_error()));
    pump();
    return;
  }

  auto const* rows = result->empty() ? nullptr : result->back().get();
  if (rows == nullptr || PQntuples(rows) != static_cast<int>(batch->total)) {
    DbError const odd{DbError::Kind::sql, {}, "unexpected answer"};
    m_ctx.db.give_back(batch->conn, &odd);
    answer_all(Error{Errc::internal, "the database answered with the wrong number of rows"});
    pump();
    return;
  }
  m_ctx.db.give_back(batch->conn, nullptr);
  if (batch->total > 0) {
    std::int64_t first = 0;
    std::int64_t last = 0;
    parse_int64(PQgetvalue(rows, 0, 0), first);
    parse_int64(PQgetvalue(rows, static_cast<int>(batch->total) - 1, 0), last);
    m_ctx.observed(batch->name, first, false);
    m_ctx.observed(batch->name, last, false);
  }
  int row = 0;
  for (auto& request : batch->requests) {
    m_numbers.clear();
    for (std::uint32_t i = 0; i < request.count; ++i, ++row) {
      std::int64_t value = 0;
      parse_int64(PQgetvalue(rows, row, 0), value);
      m_numbers.push_back(value);
    }
    if (!request.answered()) {
      m_ctx.metrics.numbers(batch->name, request.count);
      request.answer(NumbersView(m_numbers));
    }
  }
  pump();
}

void StrictSource::requeue(Batch& batch) {
  for (auto it = batch.requests.rbegin(); it != batch.requests.rend(); ++it) {
    if (!it->answered()) m_queue.push_front(std::move(*it));
  }
  batch.requests.clear();
  m_ctx.wake();
}

void StrictSource::database_down(Error const& error) {
  auto queued = std::move(m_queue);
  m_queue.clear();
  for (auto& request : queued) request.answer(std::unexpected(error));
}

void StrictSource::expire(Clock::time_point now, Error const& late) {
  std::vector<Request> expired;
  for (auto it = m_queue.begin(); it != m_queue.end();) {
    if (it->deadline <= now) {
      expired.push_back(std::move(*it));
      it = m_queue.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<AllocateHandler> in_flight;
  for (auto const& batch : m_in_flight) {
    for (auto& request : batch->requests) {
      if (!request.answered() && request.deadline <= now) {
        in_flight.push_back(std::move(request.handler));
        request.handler = nullptr;
      }
    }
  }
  for (auto& request : expired) request.answer(std::unexpected(late));
  for (auto& handler : in_flight) handler(std::unexpected(late));
}

}  // namespace pez::daemon
