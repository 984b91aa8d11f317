#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/count.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sources.hpp"

namespace pez::daemon {

BlockSource::Reserve& BlockSource::reserve(std::string const& name) {
  auto it = m_reserves.find(name);
  if (it == m_reserves.end()) {
    it = m_reserves.emplace(name, Reserve{}).first;
    it->second.name = name;
  }
  return it->second;
}

bool BlockSource::can_answer_now(std::string_view name, std::uint32_t count) const {
  auto it = m_reserves.find(name);
  return it != m_reserves.end() && it->second.waiters.empty() && it->second.available >= count;
}

std::uint64_t BlockSource::reserved(std::string_view name) const {
  auto it = m_reserves.find(name);
  return it == m_reserves.end() ? 0 : it->second.available;
}

std::size_t BlockSource::pending() const {
  std::size_t n = 0;
  for (auto const& [name, r] : m_reserves) n += r.waiters.size();
  return n;
}

void BlockSource::take(Request request) {
  Reserve& r = reserve(request.name);
  if (r.waiters.empty() && r.available >= request.count) {
    serve(r, request);
    refill_if_low(r);
    return;
  }
  if (r.run_out) {
    request.answer(std::unexpected(*r.run_out));
    return;
  }
  r.waiters.push_back(std::move(request));
  want_block(r);
  m_ctx.wake();
}

void BlockSource::serve(Reserve& r, Request& request) {
  m_numbers.clear();
  std::uint32_t left = request.count;
  while (left > 0) {
    Range& range = r.ranges.front();
    for (;;) {
      m_numbers.push_back(range.next);
      --left;
      if (range.next == range.last) {
        r.ranges.pop_front();
        break;
      }
      range.next += range.step;
      if (left == 0) break;
    }
  }
  r.available -= request.count;
  r.served_since += request.count;
  m_ctx.metrics.numbers(r.name, request.count);
  request.answer(NumbersView(m_numbers));
}

void BlockSource::serve_waiters(Reserve& r) {
  while (!r.waiters.empty() && r.available >= r.waiters.front().count) {
    Request request = std::move(r.waiters.front());
    r.waiters.pop_front();
    serve(r, request);
  }
  if (!r.waiters.empty() && r.run_out) fail_waiters(r, *r.run_out);
}

void BlockSource::refill_if_low(Reserve& r) {
  // Double buffering: the next block is asked for when half of the last one is gone.
  if (!r.fetching && !r.queued && !r.run_out && r.available <= std::max<std::uint64_t>(r.last_block / 2, 1)) {
    want_block(r);
  }
}

void BlockSource::want_block(Reserve& r) {
  if (r.fetching || r.queued) return;
  r.queued = true;
  m_fetch_queue.push_back(r.name);
  pump();
}

std::uint64_t BlockSource::next_block_size(Reserve& r) {
  auto const now = Clock::now();
  double const elapsed = std::chrono::duration<double>(now - r.measured_at).count();
  if (elapsed > 0.001) {
    double const instant = static_cast<double>(r.served_since) / elapsed;
    // Rises at once with demand, falls by half at each block.
    r.rate = std::max(instant, (r.rate + instant) / 2);
    r.served_since = 0;
    r.measured_at = now;
  }
  double const seconds = std::chrono::duration<double>(m_options.duration).count();
  double size = std::clamp(r.rate * seconds, static_cast<double>(m_options.min), static_cast<double>(m_options.max));
  std::uint64_t demand = 0;
  for (auto const& waiter : r.waiters) demand += waiter.count;
  return std::max(static_cast<std::uint64_t>(size), demand);
}

void BlockSource::pump() {
  while (!m_fetch_queue.empty()) {
    auto it = m_reserves.find(m_fetch_queue.front());
    if (it == m_reserves.end() || !it->second.queued) {
      m_fetch_queue.pop_front();
      continue;
    }
    auto conn = m_ctx.db.lease();
    if (!conn) return;
    m_fetch_queue.pop_front();
    fetch(it->second, std::move(conn));
  }
}

void BlockSource::fetch(Reserve& r, std::shared_ptr<PgConnection> conn) {
  r.queued = false;
  r.fetching = true;
  std::uint64_t const size = next_block_size(r);
  std::string const sequence = qualified_sequence(r.name);
  std::string const count = std::to_string(size);
  char const* params[] = {sequence.c_str(), count.c_str()};
  m_ctx.metrics.db_round_trip();
  spdlog::debug("reserving a block of {} numbers of {} ({} left, {:.0f}/s)", size, r.name, r.available, r.rate);
  conn->exec_prepared(k_reserve_statement, params, m_ctx.timeout,
                      [this, name = r.name, size, conn](std::expected<PgResults, DbError> result) {
                        fetched(name, size, conn, std::move(result));
                      });
}

void BlockSource::fetched(std::string const& name, std::uint64_t asked, std::shared_ptr<PgConnection> const& conn,
                          std::expected<PgResults, DbError> result) {
  auto it = m_reserves.find(name);
  if (it == m_reserves.end()) {
    m_ctx.db.give_back(conn, result ? nullptr : &result.error());
    return;
  }
  Reserve& r = it->second;
  r.fetching = false;

  if (!result) {
    auto error = result.error();
    if (error.kind == DbError::Kind::sql && error.sqlstate == "25006") {
      error = DbError{DbError::Kind::connection, error.sqlstate, "the server became read-only (a standby?): " + error.message};
    }
    m_ctx.db.give_back(conn, &error);
    if (error.kind != DbError::Kind::sql || error.sqlstate == "01000") {
      // The block is burned; ask again once a connection is back. Waiters wait for their deadline.
      spdlog::debug("reserving a block of {} failed: {}", name, error.message);
      want_block(r);
    } else {
      auto const answer = sequence_error(name, error);
      if (answer.code == Errc::exhausted) {
        r.run_out = answer;
        fail_waiters(r, answer);
      } else if (answer.code == Errc::not_found) {
        fail_waiters(r, answer);
        m_reserves.erase(it);
        m_ctx.db.refresh_catalog();
      } else {
        fail_waiters(r, answer);
      }
    }
    if (m_ctx.db.down()) database_down(unavailable_error(m_ctx.db.last_error()));
    return;
  }

  auto const* row = result->empty() ? nullptr : result->back().get();
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::int64_t step = 0;
  bool const ok = row != nullptr && PQntuples(row) == 1 && parse_int64(PQgetvalue(row, 0, 0), first) &&
                  parse_int64(PQgetvalue(row, 0, 1), last) && parse_int64(PQgetvalue(row, 0, 2), step) && step != 0 &&
                  ((step > 0 && last >= first) || (step < 0 && last <= first));
  if (!ok) {
    DbError const odd{DbError::Kind::sql, {}, "unexpected answer to pez.reserve"};
    m_ctx.db.give_back(conn, &odd);
    fail_waiters(r, Error{Errc::internal, "the database answered pez.reserve with something pezd cannot read"});
    return;
  }
  // Unsigned differences: the distance between any two int64 values fits in uint64.
  auto const distance = step > 0 ? static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first)
                                 : static_cast<std::uint64_t>(first) - static_cast<std::uint64_t>(last);
  auto const stride = step > 0 ? static_cast<std::uint64_t>(step) : 0 - static_cast<std::uint64_t>(step);
  auto const count = distance / stride + 1;
  r.ranges.push_back(Range{first, last, step});
  r.available += count;
  r.last_block = count;
  if (count < asked) spdlog::info("sequence {} reached the end of its range; the next block starts over", name);
  m_ctx.db.give_back(conn, nullptr);

  serve_waiters(r);
  if (!r.waiters.empty()) {
    want_block(r);
  } else {
    refill_if_low(r);
  }
}

void BlockSource::fail_waiters(Reserve& r, Error const& error) {
  auto waiters = std::move(r.waiters);
  r.waiters.clear();
  for (auto& request : waiters) request.answer(std::unexpected(error));
}

void BlockSource::database_down(Error const& error) {
  for (auto& [name, r] : m_reserves) {
    if (!r.waiters.empty()) fail_waiters(r, error);
  }
}

void BlockSource::expire(Clock::time_point now, Error const& late) {
  std::vector<Request> expired;
  for (auto& [name, r] : m_reserves) {
    while (!r.waiters.empty() && r.waiters.front().deadline <= now) {
      expired.push_back(std::move(r.waiters.front()));
      r.waiters.pop_front();
    }
  }
  for (auto& request : expired) request.answer(std::unexpected(late));
}

}  // namespace pez::daemon
