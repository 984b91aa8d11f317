#include "daemon/allocator.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

#include "common/count.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"

namespace pez::daemon {
namespace {

using namespace std::chrono_literals;

// Most numbers one statement takes for several waiting requests.
constexpr std::uint32_t k_max_batch = 20000;
// A name missing from a catalog read this recently is answered 404 without asking again.
constexpr auto k_catalog_fresh = 1s;
constexpr auto k_sweep_every = 50ms;

Error unavailable(std::string const& why) {
  return Error{Errc::unavailable, "the database is unavailable: " + why + "; try again later"};
}

Error not_found(std::string_view name) {
  return Error{Errc::not_found, "no sequence named " + quote_untrusted(name)};
}

}  // namespace

StrictAllocator::StrictAllocator(boost::asio::io_context& io, Database& db, Metrics& metrics,
                                 std::chrono::milliseconds timeout)
    : m_io(io), m_db(db), m_metrics(metrics), m_timeout(timeout), m_sweep(io) {
  m_db.on_available = [this] { pump(); };
  m_db.on_catalog = [this] { catalog_changed(); };
  m_db.on_down = [this](DbError const& error) { fail_waiting(unavailable(error.message)); };
}

std::size_t StrictAllocator::pending() const {
  std::size_t n = m_queue.size() + m_waiting_for_catalog.size();
  for (auto const& batch : m_in_flight) {
    for (auto const& request : batch->requests) n += request.handler ? 1 : 0;
  }
  return n;
}

void StrictAllocator::allocate(std::string_view name, std::uint32_t count, AllocateHandler handler) {
  if (m_db.down()) {
    handler(std::unexpected(unavailable(m_db.last_error())));
    return;
  }
  admit(Request{std::string(name), count, Clock::now() + m_timeout, std::move(handler)});
}

void StrictAllocator::admit(Request request) {
  auto const& catalog = m_db.catalog();
  if (!catalog.loaded()) {
    m_waiting_for_catalog.push_back(std::move(request));
    arm_sweep();
    return;
  }
  if (catalog.find(request.name) == nullptr) {
    if (Clock::now() - catalog.refreshed_at() < k_catalog_fresh) {
      request.handler(std::unexpected(not_found(request.name)));
      return;
    }
    m_waiting_for_catalog.push_back(std::move(request));
    m_db.refresh_catalog();
    arm_sweep();
    return;
  }
  if (request.count == 0) {
    request.handler(Numbers{});
    return;
  }
  m_queue.push_back(std::move(request));
  pump();
  arm_sweep();
}

void StrictAllocator::catalog_changed() {
  auto waiting = std::move(m_waiting_for_catalog);
  m_waiting_for_catalog.clear();
  for (auto& request : waiting) {
    if (m_db.catalog().find(request.name) == nullptr) {
      request.handler(std::unexpected(not_found(request.name)));
    } else {
      admit(std::move(request));
    }
  }
}

void StrictAllocator::pump() {
  // One statement at a time per sequence: requests that arrive meanwhile wait and go together in
  // the next one, so a daemon hands out numbers in the order their requests arrived.
  auto busy = [this](std::string const& name) {
    return std::ranges::any_of(m_in_flight, [&](auto const& batch) { return batch->name == name; });
  };
  for (;;) {
    auto next = std::ranges::find_if(m_queue, [&](Request const& r) { return !busy(r.name); });
    if (next == m_queue.end()) return;
    auto conn = m_db.lease();
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

void StrictAllocator::run(std::shared_ptr<Batch> const& batch) {
  // Names are checked (a-z 0-9 _ -) before they get here; quoting keeps '-' an identifier.
  std::string const sequence = "pez.\"" + batch->name + "\"";
  std::string const count = std::to_string(batch->total);
  char const* params[] = {sequence.c_str(), count.c_str()};
  m_in_flight.push_back(batch);
  m_metrics.db_round_trip();
  batch->conn->exec_prepared(k_take_statement, params, m_timeout,
                             [this, batch](std::expected<PgResults, DbError> result) {
                               finish(batch, std::move(result));
                             });
}

void StrictAllocator::finish(std::shared_ptr<Batch> const& batch, std::expected<PgResults, DbError> result) {
  std::erase(m_in_flight, batch);
  if (!result) {
    auto const& error = result.error();
    if (error.kind == DbError::Kind::connection) {
      // The numbers of this exchange, if any were taken, are burned; the requests try again.
      m_db.give_back(batch->conn, &error);
      requeue(*batch);
    } else if (error.kind == DbError::Kind::timeout) {
      m_db.give_back(batch->conn, &error);
      answer_all(*batch, unavailable(error.message));
    } else if (error.sqlstate == "25006") {
      DbError const standby{DbError::Kind::connection, error.sqlstate,
                            "the server became read-only (a standby?): " + error.message};
      m_db.give_back(batch->conn, &standby);
      requeue(*batch);
    } else {
      m_db.give_back(batch->conn, &error);
      if (error.sqlstate == "01000") {
        requeue(*batch);
      } else if (error.sqlstate == "42P01" || error.sqlstate == "42809" || error.sqlstate == "3F000") {
        m_db.refresh_catalog();
        answer_all(*batch, not_found(batch->name));
      } else if (error.sqlstate == "2200H") {
        answer_all(*batch, Error{Errc::exhausted, "sequence " + quote_untrusted(batch->name) +
                                                      " has handed out its last number and does not cycle; "
                                                      "reset it to hand out numbers again"});
      } else {
        spdlog::error("taking numbers from {} failed: {} (SQLSTATE {})", batch->name, error.message,
                      error.sqlstate);
        answer_all(*batch, Error{Errc::internal, "the database refused to hand out numbers: " + error.message});
      }
    }
    if (m_db.down()) fail_waiting(unavailable(m_db.last_error()));
    pump();
    return;
  }

  auto const* rows = result->empty() ? nullptr : result->back().get();
  if (rows == nullptr || PQntuples(rows) != static_cast<int>(batch->total)) {
    DbError const odd{DbError::Kind::sql, {}, "unexpected answer"};
    m_db.give_back(batch->conn, &odd);
    answer_all(*batch, Error{Errc::internal, "the database answered with the wrong number of rows"});
    pump();
    return;
  }
  m_db.give_back(batch->conn, nullptr);
  int row = 0;
  for (auto& request : batch->requests) {
    Numbers numbers;
    numbers.reserve(request.count);
    for (std::uint32_t i = 0; i < request.count; ++i, ++row) {
      std::int64_t value = 0;
      parse_int64(PQgetvalue(rows, row, 0), value);
      numbers.push_back(value);
    }
    if (request.handler) {
      m_metrics.numbers(batch->name, request.count);
      auto handler = std::move(request.handler);
      request.handler = nullptr;
      handler(std::move(numbers));
    }
  }
  pump();
}

void StrictAllocator::requeue(Batch& batch) {
  for (auto it = batch.requests.rbegin(); it != batch.requests.rend(); ++it) {
    if (it->handler) m_queue.push_front(std::move(*it));
  }
  batch.requests.clear();
  arm_sweep();
}

void StrictAllocator::answer_all(Batch& batch, Error const& error) {
  for (auto& request : batch.requests) {
    if (!request.handler) continue;
    auto handler = std::move(request.handler);
    request.handler = nullptr;
    handler(std::unexpected(error));
  }
}

void StrictAllocator::fail_waiting(Error const& error) {
  auto queued = std::move(m_queue);
  m_queue.clear();
  auto waiting = std::move(m_waiting_for_catalog);
  m_waiting_for_catalog.clear();
  for (auto* list : {&queued, &waiting}) {
    for (auto& request : *list) request.handler(std::unexpected(error));
  }
}

void StrictAllocator::arm_sweep() {
  if (m_sweep_armed) return;
  m_sweep_armed = true;
  m_sweep.expires_after(k_sweep_every);
  m_sweep.async_wait([this](boost::system::error_code ec) {
    m_sweep_armed = false;
    if (ec) return;
    sweep();
  });
}

void StrictAllocator::sweep() {
  auto const now = Clock::now();
  // Handlers run last: an answer may lead its session to send the next request at once.
  std::vector<AllocateHandler> expired;
  auto expire = [&](std::deque<Request>& list) {
    for (auto it = list.begin(); it != list.end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(it->handler));
        it = list.erase(it);
      } else {
        ++it;
      }
    }
  };
  expire(m_queue);
  expire(m_waiting_for_catalog);
  for (auto const& batch : m_in_flight) {
    for (auto& request : batch->requests) {
      if (request.handler && request.deadline <= now) {
        expired.push_back(std::move(request.handler));
        request.handler = nullptr;
      }
    }
  }
  auto const late = unavailable("no answer within " + settings::format_duration(m_timeout));
  for (auto& handler : expired) handler(std::unexpected(late));
  if (pending() > 0) arm_sweep();
}

}  // namespace pez::daemon
