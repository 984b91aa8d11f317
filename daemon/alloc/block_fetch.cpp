// SPDX-License-Identifier: Apache-2.0
// BlockSource: asking the database for blocks, and taking in its answers.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "daemon/alloc/block_source_detail.hpp"
#include "daemon/alloc/sources.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

using block_detail::numbers_in;

void BlockSource::want_block(Reserve& r) {
  if (r.fetching || (r.queued && (r.urgent || r.waiters.empty()))) return;
  enqueue_locked(r);
  pump_locked();
}

void BlockSource::enqueue_locked(Reserve& r) {
  // A reserve already queued as low and now waited for is queued again, before the low ones:
  // whichever entry comes first fetches it, and the other is skipped.
  r.queued = true;
  r.urgent = !r.waiters.empty();
  (r.urgent ? m_fetch_urgent : m_fetch_queue).push_back(r.name);
  if (!r.urgent && !m_gather_until) m_gather_until = m_ctx.clock.now() + k_gather;
}

std::uint64_t BlockSource::next_block_size(Reserve& r) {
  auto const now = m_ctx.clock.now();
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
  if (r.period_boundary) {
    // What is not handed out when the period ends is dropped: for a sequence without cycle those
    // are the period's last numbers, which the other daemons may still need.
    double const left = std::chrono::duration<double>(*r.period_boundary - now).count();
    size = std::min(size, std::max(static_cast<double>(m_options.min), r.rate * left));
  }
  std::uint64_t demand = 0;
  for (auto const& waiter : r.waiters) demand += waiter.count;
  return std::max(static_cast<std::uint64_t>(size), demand);
}

void BlockSource::pump() {
  std::lock_guard lock(m_lock);
  pump_locked();
}

void BlockSource::pump_locked() {
  auto const now = m_ctx.clock.now();
  std::optional<Clock::time_point> retry_at;
  std::size_t const limit = std::max<std::size_t>(1, m_ctx.store.reserve_batch());
  // Waiting for their retry time, in their order.
  std::deque<std::string> later_urgent;
  std::deque<std::string> later;
  while (m_ctx.store.can_send()) {
    // As many as one statement may reserve, those waited for first; one asked alone goes alone.
    std::vector<Reserve*> batch;
    bool alone = false;
    auto collect = [&](std::deque<std::string>& queue, std::deque<std::string>& wait) {
      while (!queue.empty() && batch.size() < limit && !alone) {
        auto it = m_reserves.find(queue.front());
        if (it == m_reserves.end() || !it->second.queued) {
          queue.pop_front();
          continue;
        }
        Reserve& r = it->second;
        if (auto const at = r.retry.ready_at(); at > now) {
          retry_at = retry_at ? std::min(*retry_at, at) : at;
          wait.push_back(std::move(queue.front()));
          queue.pop_front();
          continue;
        }
        // One whose last statement took too long (a transaction may hold its lock) goes alone
        // until its own succeeds, so that it holds up no other.
        bool const by_itself = r.alone || r.timed_out;
        if (by_itself && !batch.empty()) return;
        alone = by_itself;
        queue.pop_front();
        r.queued = false;
        batch.push_back(&r);
      }
    };
    collect(m_fetch_urgent, later_urgent);
    // A reserve merely low (half its last block left: seconds of numbers, normally) waits up to
    // k_gather for others to share its statement, unless the statement is full or goes anyway:
    // with 10,000 sequences in use, each reserve in a statement of its own kept both
    // connections busy.
    // (One queued again after its retry time has no deadline: it goes when it may.)
    bool const gathered = !m_gather_until || m_fetch_queue.size() >= limit || now >= *m_gather_until;
    if (!batch.empty() || gathered) {
      collect(m_fetch_queue, later);
      if (m_fetch_queue.empty()) m_gather_until.reset();
    } else if (!m_fetch_queue.empty()) {
      retry_at = retry_at ? std::min(*retry_at, *m_gather_until) : *m_gather_until;
    }
    if (batch.empty()) break;
    if (batch.size() == 1) {
      fetch(*batch.front());
    } else {
      fetch_many(std::move(batch));
    }
  }
  m_fetch_urgent.insert(m_fetch_urgent.begin(), later_urgent.begin(), later_urgent.end());
  m_fetch_queue.insert(m_fetch_queue.begin(), later.begin(), later.end());
  if (retry_at && (!m_retry_timer->armed() || *retry_at < m_retry_due)) {
    m_retry_due = *retry_at;
    m_retry_timer->start(*retry_at - now, [this] { pump(); });
  }
}

void BlockSource::fetch_many(std::vector<Reserve*> batch) {
  // In the order of their names: statements that lock sequences in one order cannot deadlock.
  std::ranges::sort(batch, [](Reserve const* a, Reserve const* b) { return a->name < b->name; });
  std::vector<ReserveAsk> asks;
  std::vector<Asked> asked;
  for (Reserve* r : batch) {
    r->queued = false;
    r->urgent = false;
    r->fetching = true;
    auto const size = next_block_size(*r);
    asks.push_back(ReserveAsk{r->name, size});
    asked.push_back(Asked{r->name, r->epoch, r->generation, size});
  }
  m_ctx.metrics.db_round_trip();
  spdlog::debug("reserving blocks of {} sequences in one statement", asks.size());
  m_ctx.store.reserve_many(
      asks, [this, asked = std::move(asked), asked_at = m_ctx.clock.moment()](ReserveManyResult result) {
        if (result) {
          // Each its block or its own refusal (run out, dropped): one sequence's refusal costs the
          // others nothing.
          for (std::size_t i = 0; i < asked.size(); ++i) {
            auto const& a = asked[i];
            fetched(a.name, a.epoch, a.generation, a.size, asked_at, (*result)[i]);
          }
          return;
        }
        auto const kind = result.error().kind;
        if (kind == StoreError::Kind::lost || kind == StoreError::Kind::timeout) {
          for (auto const& a : asked)
            fetched(a.name, a.epoch, a.generation, a.size, asked_at, std::unexpected(result.error()));
          return;
        }
        spdlog::debug("reserving blocks of {} sequences in one statement failed ({}): each is asked for alone",
                      asked.size(), result.error().message);
        ask_alone(asked);
      });
}

void BlockSource::ask_alone(std::vector<Asked> const& asked) {
  {
    std::lock_guard lock(m_lock);
    for (auto const& a : asked) {
      auto it = m_reserves.find(a.name);
      if (it == m_reserves.end() || it->second.epoch != a.epoch) continue;  // dropped meanwhile
      Reserve& r = it->second;
      r.fetching = false;
      r.alone = true;
      enqueue_locked(r);
    }
    pump_locked();
  }
}

void BlockSource::fetch(Reserve& r) {
  r.queued = false;
  r.urgent = false;
  r.alone = false;
  r.fetching = true;
  std::uint64_t const size = next_block_size(r);
  m_ctx.metrics.db_round_trip();
  spdlog::debug("reserving a block of {} numbers of {} ({} left, {:.0f}/s)", size, r.name, r.available, r.rate);
  m_ctx.store.reserve(
      r.name, size,
      [this, name = r.name, epoch = r.epoch, generation = r.generation, size, asked_at = m_ctx.clock.moment()](
          ReserveResult result) { fetched(name, epoch, generation, size, asked_at, std::move(result)); });
}

void BlockSource::fetched(std::string const& name, std::uint64_t epoch, std::int64_t generation, std::uint64_t asked,
                          Moment asked_at, ReserveResult result) {
  using Kind = StoreError::Kind;
  Deliveries out;
  bool refresh_catalog = false;
  struct Observed {
    std::int64_t value = 0;
    bool exhausted = false;
    std::int32_t period = 0;
  };
  std::vector<Observed> observe;  // told after the lock is released
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end() || it->second.epoch != epoch) {
      // Asked for by a reserve of this name that has gone since (the sequence was dropped):
      // whatever it brought is burned, even when the name exists again.
      spdlog::debug("dropping a block of {} asked for before it was dropped", name);
    } else if (!result) {
      Reserve& r = it->second;
      r.fetching = false;
      auto const& error = result.error();
      r.timed_out = error.kind == Kind::timeout;
      if (error.kind == Kind::lost || error.kind == Kind::timeout) {
        // The block is burned; ask again, after a pause if this keeps happening. Waiters wait
        // for their deadline.
        r.retry.failed(m_ctx.clock.now(), sequence_error(name, asked, error));
        if (m_failure_log.allow()) {
          spdlog::warn("reserving a block of {} failed: {}; trying again{}", name, error.message,
                       m_failure_log.left_out_text());
        }
        enqueue_locked(r);
      } else if ((error.kind == Kind::exhausted || error.kind == Kind::not_found) && r.generation != generation) {
        // The sequence was reset, or created again, while this was on its way, and this daemon
        // has read so since: the answer speaks of what was there before (run out, or dropped).
        // Asked again.
        enqueue_locked(r);
      } else if (error.kind == Kind::exhausted) {
        // The waiters are served from what is held: not from a period that is over.
        end_period_locked(r);
        r.run_out = true;
        // A periodic sequence may hold numbers again in its next period, which the database's
        // clock decides: asked again a second later.
        if (r.periodic || r.period != 0) {
          r.run_out_until = m_ctx.clock.now() + std::chrono::seconds(1);
        }
        observe.push_back({0, true, 0});
        serve_waiters(r, out);
      } else if (error.kind == Kind::not_found) {
        erase_locked(it, out);
        refresh_catalog = true;
      } else {
        auto const answer = sequence_error(name, asked, error);
        r.retry.failed(m_ctx.clock.now(), answer);
        if (m_failure_log.allow()) {
          spdlog::error("reserving a block of {} failed: {}{}", name, error.message, m_failure_log.left_out_text());
        }
        fail_waiters(r, answer, out);
      }
    } else {
      Reserve& r = it->second;
      r.fetching = false;
      r.timed_out = false;
      Block const& block = *result;
      if (block.generation < r.generation) {
        // Reserved before a reset or re-create this daemon already knows of: burned. The next
        // one comes after a pause if this keeps happening.
        spdlog::debug("dropping a block of {} reserved before its reset", name);
        r.retry.failed(m_ctx.clock.now());
        resume_locked(r, out);
      } else {
        // A newer generation than the ranges held: the sequence was reset meanwhile.
        if (block.generation > r.generation) invalidate_locked(r, block.generation);
        if (add_block_locked(r, block, asked_at)) {
          auto const count = numbers_in(block.first, block.last, block.step);
          r.retry.succeeded();
          observe.push_back({block.first, false, block.period});
          observe.push_back({block.last, false, block.period});
          if (count < asked) spdlog::info("sequence {} reached the end of its range", name);
        }
        resume_locked(r, out);
      }
    }
  }
  if (refresh_catalog) m_ctx.store.refresh_entry(name);
  for (auto const& seen : observe) m_ctx.observed(name, seen.value, seen.exhausted, seen.period);
  deliver(out);
  if (m_ctx.store.down()) database_down(unavailable_error(m_ctx.store.last_error()));
}

bool BlockSource::add_block_locked(Reserve& r, Block const& block, Moment asked_at) {
  end_period_locked(r);
  if (block.period != 0 && block.valid_for) {
    // Handed out only while its period lasts here, by either clock.
    auto const lasts = *block.valid_for - *block.valid_for / 1000;
    Moment const ends{asked_at.steady + lasts, asked_at.wall + std::chrono::duration_cast<WallClock::duration>(lasts)};
    if (block.period >= r.period) r.period_boundary = asked_at.steady + *block.valid_for;
    if (block.period < r.period || ends.steady <= m_ctx.clock.now() || ends.wall <= m_ctx.clock.wall_now()) {
      spdlog::debug("dropping a block of {}: its period is over", r.name);
      return false;
    }
    if (block.period > r.period) {
      // What is held was reserved in the period before: none of it is handed out in this one.
      if (r.available > 0) {
        spdlog::info("dropped {} reserved numbers of {}: their period is over", r.available, r.name);
      }
      r.ranges.clear();
      r.available = 0;
      r.new_passes = 0;
      r.period_ends.reset();
    }
    r.period = block.period;
    if (r.period_ends) {
      r.period_ends->steady = std::min(r.period_ends->steady, ends.steady);
      r.period_ends->wall = std::min(r.period_ends->wall, ends.wall);
    } else {
      r.period_ends = ends;
    }
    r.run_out = false;
  } else if (r.period != 0) {
    // Created again without period (its ranges went with its generation).
    r.period = 0;
    r.period_ends.reset();
    r.period_boundary.reset();
  }
  auto const count = numbers_in(block.first, block.last, block.step);
  bool const wrapped =
      !r.ranges.empty() && (block.step > 0 ? block.first <= r.ranges.back().last : block.first >= r.ranges.back().last);
  r.ranges.push_back(Range{block.first, block.last, block.step, block.generation, wrapped});
  if (wrapped) ++r.new_passes;
  r.available += count;
  r.last_block = count;
  return true;
}

}  // namespace pez::daemon
