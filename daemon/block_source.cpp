#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/count.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sources.hpp"

namespace pez::daemon {

namespace {

// The numbers of an answer given at once, without an allocation per request.
std::vector<std::int64_t>& scratch() {
  thread_local std::vector<std::int64_t> numbers;
  return numbers;
}

}  // namespace

BlockSource::Reserve& BlockSource::reserve(std::string const& name) {
  auto it = m_reserves.find(name);
  if (it == m_reserves.end()) {
    it = m_reserves.emplace(name, Reserve{}).first;
    it->second.name = name;
  }
  return it->second;
}

bool BlockSource::can_take(Reserve const& r, std::uint32_t count) {
  return r.waiters.empty() && r.available >= count;
}

bool BlockSource::can_answer_now(std::string_view name, std::uint32_t count) const {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  return it != m_reserves.end() && can_take(it->second, count);
}

std::uint64_t BlockSource::reserved(std::string_view name) const {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  return it == m_reserves.end() ? 0 : it->second.available;
}

std::size_t BlockSource::pending() const {
  std::lock_guard lock(m_lock);
  std::size_t n = 0;
  for (auto const& [name, r] : m_reserves) n += r.waiters.size();
  return n;
}

void BlockSource::take_numbers(Reserve& r, std::uint32_t count, std::vector<std::int64_t>& out) {
  out.clear();
  std::uint32_t left = count;
  while (left > 0) {
    Range& range = r.ranges.front();
    for (;;) {
      out.push_back(range.next);
      --left;
      if (range.next == range.last) {
        r.ranges.pop_front();
        break;
      }
      range.next += range.step;
      if (left == 0) break;
    }
  }
  r.available -= count;
  r.served_since += count;
}

bool BlockSource::low(Reserve const& r) const {
  // Double buffering: the next block is asked for when half of the last one is gone.
  return !r.fetching && !r.queued && !r.run_out && r.available <= std::max<std::uint64_t>(r.last_block / 2, 1);
}

bool BlockSource::try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out, bool& refill) {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  if (it == m_reserves.end() || !can_take(it->second, count)) return false;
  take_numbers(it->second, count, out);
  refill = low(it->second);
  return true;
}

void BlockSource::refill(std::string const& name) {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  if (it != m_reserves.end() && low(it->second)) want_block(it->second);
}

bool BlockSource::warm_up(std::string const& name) {
  std::lock_guard lock(m_lock);
  Reserve& r = reserve(name);
  if (r.available > 0 || r.run_out) return true;
  want_block(r);
  return false;
}

void BlockSource::take(Request request) {
  std::optional<Error> refused;
  bool served = false;
  {
    std::lock_guard lock(m_lock);
    Reserve& r = reserve(request.name);
    if (can_take(r, request.count)) {
      take_numbers(r, request.count, scratch());
      if (low(r)) want_block(r);
      served = true;
    } else if (r.run_out) {
      refused = r.run_out;
    } else {
      r.waiters.push_back(std::move(request));
      want_block(r);
    }
  }
  if (served) {
    m_ctx.metrics.numbers(request.name, request.count);
    request.answer(NumbersView(scratch()));
  } else if (refused) {
    request.answer(std::unexpected(*refused));
  } else {
    m_ctx.wake();
  }
}

void BlockSource::serve_waiters(Reserve& r, Deliveries& out) {
  while (!r.waiters.empty() && r.available >= r.waiters.front().count) {
    Delivery d{std::move(r.waiters.front()), {}, {}};
    r.waiters.pop_front();
    take_numbers(r, d.request.count, d.numbers);
    out.push_back(std::move(d));
  }
  if (!r.waiters.empty() && r.run_out) fail_waiters(r, *r.run_out, out);
}

void BlockSource::fail_waiters(Reserve& r, Error const& error, Deliveries& out) {
  for (auto& request : r.waiters) out.push_back(Delivery{std::move(request), {}, error});
  r.waiters.clear();
}

void BlockSource::deliver(Deliveries& out) {
  for (auto& d : out) {
    if (d.error) {
      d.request.answer(std::unexpected(*d.error));
    } else {
      d.request.answer(NumbersView(d.numbers));
    }
  }
}

void BlockSource::want_block(Reserve& r) {
  if (r.fetching || r.queued) return;
  r.queued = true;
  m_fetch_queue.push_back(r.name);
  pump_locked();
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
  std::lock_guard lock(m_lock);
  pump_locked();
}

void BlockSource::pump_locked() {
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
  Deliveries out;
  std::optional<DbError> failure;
  bool refresh_catalog = false;
  std::vector<std::pair<std::int64_t, bool>> observe;  // told after the lock is released
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end()) {
      if (!result) failure = result.error();
    } else if (!result) {
      Reserve& r = it->second;
      r.fetching = false;
      failure = result.error();
      if (failure->kind == DbError::Kind::sql && failure->sqlstate == "25006") {
        failure = DbError{DbError::Kind::connection, failure->sqlstate,
                          "the server became read-only (a standby?): " + failure->message};
      }
      if (failure->kind != DbError::Kind::sql || failure->sqlstate == "01000") {
        // The block is burned; ask again once a connection is back. Waiters wait for their deadline.
        spdlog::debug("reserving a block of {} failed: {}", name, failure->message);
        r.queued = true;
        m_fetch_queue.push_back(name);
      } else {
        auto const answer = sequence_error(name, *failure);
        fail_waiters(r, answer, out);
        if (answer.code == Errc::exhausted) {
          r.run_out = answer;
          observe.push_back({0, true});
        } else if (answer.code == Errc::not_found) {
          m_reserves.erase(it);
          refresh_catalog = true;
        }
      }
    } else {
      Reserve& r = it->second;
      r.fetching = false;
      auto const* row = result->empty() ? nullptr : result->back().get();
      std::int64_t first = 0;
      std::int64_t last = 0;
      std::int64_t step = 0;
      std::int64_t generation = 0;
      bool const ok = row != nullptr && PQntuples(row) == 1 && PQnfields(row) == 4 &&
                      parse_int64(PQgetvalue(row, 0, 0), first) && parse_int64(PQgetvalue(row, 0, 1), last) &&
                      parse_int64(PQgetvalue(row, 0, 2), step) && parse_int64(PQgetvalue(row, 0, 3), generation) &&
                      step != 0 && ((step > 0 && last >= first) || (step < 0 && last <= first));
      if (!ok) {
        failure = DbError{DbError::Kind::sql, {}, "unexpected answer to pez.reserve"};
        fail_waiters(r, Error{Errc::internal, "the database answered pez.reserve with something pezd cannot read"},
                     out);
      } else if (generation < r.generation) {
        // Reserved before a reset this daemon already heard of: burned.
        spdlog::debug("dropping a block of {} reserved before its reset", name);
        if (!r.waiters.empty() || low(r)) {
          r.queued = true;
          m_fetch_queue.push_back(name);
        }
      } else {
        // A newer generation than the ranges held: the sequence was reset meanwhile.
        if (generation > r.generation) invalidate_locked(it, generation, out);
        // Unsigned differences: the distance between any two int64 values fits in uint64.
        auto const distance = step > 0 ? static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first)
                                       : static_cast<std::uint64_t>(first) - static_cast<std::uint64_t>(last);
        auto const stride = step > 0 ? static_cast<std::uint64_t>(step) : 0 - static_cast<std::uint64_t>(step);
        auto const count = distance / stride + 1;
        r.ranges.push_back(Range{first, last, step, generation});
        observe.push_back({first, false});
        observe.push_back({last, false});
        r.available += count;
        r.last_block = count;
        if (count < asked) spdlog::info("sequence {} reached the end of its range; the next block starts over", name);
        serve_waiters(r, out);
        if (!r.waiters.empty() || low(r)) {
          r.queued = true;
          m_fetch_queue.push_back(name);
        }
      }
    }
  }
  // Outside the lock: giving the connection back may start the next statement at once.
  m_ctx.db.give_back(conn, failure ? &*failure : nullptr);
  if (refresh_catalog) m_ctx.db.refresh_catalog();
  for (auto const& [value, exhausted] : observe) m_ctx.observed(name, value, exhausted);
  for (auto const& d : out) {
    if (!d.error) m_ctx.metrics.numbers(name, d.request.count);
  }
  deliver(out);
  pump();
  if (m_ctx.db.down()) database_down(unavailable_error(m_ctx.db.last_error()));
}

bool BlockSource::invalidate_locked(std::map<std::string, Reserve, std::less<>>::iterator it, std::int64_t generation,
                                    Deliveries& out) {
  Reserve& r = it->second;
  if (generation == 0) {
    fail_waiters(r, Error{Errc::not_found, "no sequence named \"" + r.name + "\" (it was dropped)"}, out);
    m_reserves.erase(it);
    return true;
  }
  if (generation <= r.generation) return false;
  r.generation = generation;
  std::erase_if(r.ranges, [generation](Range const& range) { return range.generation < generation; });
  std::uint64_t available = 0;
  for (auto const& range : r.ranges) {
    auto const distance = range.step > 0 ? static_cast<std::uint64_t>(range.last) - static_cast<std::uint64_t>(range.next)
                                         : static_cast<std::uint64_t>(range.next) - static_cast<std::uint64_t>(range.last);
    auto const stride = range.step > 0 ? static_cast<std::uint64_t>(range.step) : 0 - static_cast<std::uint64_t>(range.step);
    available += distance / stride + 1;
  }
  if (available != r.available) spdlog::info("dropped {} reserved numbers of {}: it was reset", r.available - available, r.name);
  r.available = available;
  r.run_out.reset();
  return false;
}

void BlockSource::invalidate(std::string const& name, std::int64_t generation) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end()) return;
    if (!invalidate_locked(it, generation, out)) {
      // The next block is fetched when numbers are asked for, not at once.
      Reserve& r = it->second;
      if (!r.waiters.empty()) want_block(r);
    }
  }
  deliver(out);
}

void BlockSource::sync(Catalog const& catalog) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    for (auto it = m_reserves.begin(); it != m_reserves.end();) {
      auto next = std::next(it);
      auto const* info = catalog.find(it->first);
      if (info == nullptr) {
        invalidate_locked(it, 0, out);
      } else if (!invalidate_locked(it, info->generation, out)) {
        // The next block is fetched when numbers are asked for, not at once.
        Reserve& r = it->second;
        if (!r.waiters.empty()) want_block(r);
      }
      it = next;
    }
  }
  deliver(out);
}

void BlockSource::database_down(Error const& error) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    for (auto& [name, r] : m_reserves) fail_waiters(r, error, out);
  }
  deliver(out);
}

void BlockSource::expire(Clock::time_point now, Error const& late) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    for (auto& [name, r] : m_reserves) {
      while (!r.waiters.empty() && r.waiters.front().deadline <= now) {
        out.push_back(Delivery{std::move(r.waiters.front()), {}, late});
        r.waiters.pop_front();
      }
    }
  }
  deliver(out);
}

}  // namespace pez::daemon
