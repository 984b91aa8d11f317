// SPDX-License-Identifier: Apache-2.0
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "daemon/alloc/block_source_detail.hpp"
#include "daemon/alloc/sources.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

namespace block_detail {

std::uint64_t numbers_in(std::int64_t from, std::int64_t to, std::int64_t step) {
  // Unsigned differences: the distance between any two int64 values fits in uint64.
  auto const distance = step > 0 ? static_cast<std::uint64_t>(to) - static_cast<std::uint64_t>(from)
                                 : static_cast<std::uint64_t>(from) - static_cast<std::uint64_t>(to);
  auto const stride = step > 0 ? static_cast<std::uint64_t>(step) : 0 - static_cast<std::uint64_t>(step);
  return distance / stride + 1;
}

}  // namespace block_detail

using block_detail::numbers_in;

namespace {

// The numbers of an answer given at once, without an allocation per request.
std::vector<std::int64_t>& scratch() {
  thread_local std::vector<std::int64_t> numbers;
  return numbers;
}

}  // namespace

BlockSource::BlockSource(SourceContext ctx, BlockOptions options)
    : m_ctx(std::move(ctx)), m_options(options), m_retry_timer(m_ctx.clock.timer()) {}

BlockSource::Reserve& BlockSource::reserve(std::string const& name) {
  auto it = m_reserves.find(name);
  if (it == m_reserves.end()) {
    Reserve r;
    r.name = name;
    r.epoch = m_next_epoch++;
    r.measured_at = m_ctx.clock.now();
    // A block of an older generation than the catalog shows is stale from the start.
    if (auto const* info = m_ctx.store.catalog().find(name)) {
      r.generation = info->generation;
      r.format = info->format;
      r.periodic = info->periodic;
    }
    if (auto fence = m_fences.find(name); fence != m_fences.end()) {
      r.fence = fence->second;
      m_fences.erase(fence);
    }
    it = m_reserves.emplace(name, std::move(r)).first;
  }
  return it->second;
}

bool BlockSource::can_take(Reserve const& r, std::uint32_t count) const {
  return r.waiters.empty() && r.fence <= m_read_done && !period_over(r) && start_for(r, count).has_value();
}

bool BlockSource::period_over(Reserve const& r) const {
  return r.period_ends && (m_ctx.clock.now() >= r.period_ends->steady || m_ctx.clock.wall_now() >= r.period_ends->wall);
}

void BlockSource::end_period_locked(Reserve& r) {
  if (r.run_out_until && m_ctx.clock.now() >= *r.run_out_until) {
    r.run_out = false;
    r.run_out_until.reset();
  }
  if (!period_over(r)) return;
  if (r.available > 0) spdlog::info("dropped {} reserved numbers of {}: their period is over", r.available, r.name);
  r.ranges.clear();
  r.available = 0;
  r.new_passes = 0;
  r.period_ends.reset();
  r.run_out = false;
  r.run_out_until.reset();
}

std::optional<std::size_t> BlockSource::start_for(Reserve const& r, std::uint32_t count) {
  if (r.available < count) return std::nullopt;
  if (r.new_passes == 0) return 0;
  // The passes held: where each starts, and how many numbers it holds.
  struct Pass {
    std::size_t first_range;
    std::uint64_t numbers;
  };
  std::vector<Pass> passes;
  for (std::size_t i = 0; i < r.ranges.size(); ++i) {
    auto const& range = r.ranges[i];
    if (i == 0 || range.new_pass) passes.push_back(Pass{i, 0});
    passes.back().numbers += numbers_in(range.next, range.last, range.step);
  }
  for (std::size_t p = 0; p < passes.size(); ++p) {
    if (passes[p].numbers >= count) return passes[p].first_range;
    if (p + 1 == passes.size() || passes[p].numbers + passes[p + 1].numbers < count) continue;
    // Across one wrap: the numbers after it must stay short of the first before it, or one
    // answer could hold a number twice.
    std::uint64_t need = count - passes[p].numbers;
    std::int64_t last = 0;
    for (std::size_t i = passes[p + 1].first_range; need > 0; ++i) {
      auto const& range = r.ranges[i];
      auto const n = std::min(need, numbers_in(range.next, range.last, range.step));
      last = static_cast<std::int64_t>(static_cast<std::uint64_t>(range.next) +
                                       (n - 1) * static_cast<std::uint64_t>(range.step));
      need -= n;
    }
    auto const first = r.ranges[passes[p].first_range].next;
    if (r.ranges.front().step > 0 ? last < first : last > first) return passes[p].first_range;
  }
  return std::nullopt;
}

void BlockSource::skip_to(Reserve& r, std::size_t first_range) {
  // Gaps are allowed, a number twice in one answer is not.
  for (std::size_t i = 0; i < first_range; ++i) {
    auto const& range = r.ranges.front();
    r.available -= numbers_in(range.next, range.last, range.step);
    if (range.new_pass) --r.new_passes;
    r.ranges.pop_front();
  }
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
  for (auto const& name : m_waiting) {
    if (auto it = m_reserves.find(name); it != m_reserves.end()) n += it->second.waiters.size();
  }
  return n;
}

void BlockSource::take_numbers(Reserve& r, std::uint32_t count, std::vector<std::int64_t>& out) {
  out.clear();
  skip_to(r, *start_for(r, count));
  std::uint32_t left = count;
  while (left > 0) {
    Range& range = r.ranges.front();
    if (range.new_pass) {
      range.new_pass = false;  // the first range of what is held now
      --r.new_passes;
    }
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

bool BlockSource::try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out,
                           Printing& printing, bool& refill) {
  std::lock_guard lock(m_lock);
  if (m_refusing) return false;
  auto it = m_reserves.find(name);
  if (it == m_reserves.end() || !can_take(it->second, count)) return false;
  take_numbers(it->second, count, out);
  printing = Printing{it->second.format, it->second.period};
  refill = low(it->second);
  return true;
}

void BlockSource::refill(std::string const& name) {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  if (it == m_reserves.end()) return;
  end_period_locked(it->second);
  if (low(it->second)) want_block(it->second);
}

bool BlockSource::warm_up(std::string const& name) {
  std::lock_guard lock(m_lock);
  if (m_refusing) return true;  // nothing to wait for: refused until notices arrive
  Reserve& r = reserve(name);
  end_period_locked(r);
  if (r.available > 0 || r.run_out) return true;
  want_block(r);
  return false;
}

void BlockSource::take(Request request) {
  std::optional<Error> refused;
  bool served = false;
  Printing printing;
  {
    std::lock_guard lock(m_lock);
    if (m_refusing) {
      refused = m_refusing;
    } else {
      Reserve& r = reserve(request.name);
      end_period_locked(r);
      if (can_take(r, request.count)) {
        take_numbers(r, request.count, scratch());
        printing = Printing{r.format, r.period};
        if (low(r)) want_block(r);
        served = true;
      } else if (r.run_out && r.waiters.empty() && r.fence <= m_read_done) {
        // Fewer are left than asked for: none is taken, smaller requests still get them.
        refused = sequence_error(r.name, request.count, StoreError{StoreError::Kind::exhausted, {}});
      } else {
        request.fence = r.fence;
        r.waiters.push_back(std::move(request));
        m_waiting.insert(r.name);  // a copy of the name only when it was not there
        if (!r.run_out) want_block(r);
      }
    }
  }
  if (served) {
    m_ctx.metrics.numbers(request.name, request.count);
    request.answer(Numbers{NumbersView(scratch()), std::move(printing)});
  } else if (refused) {
    request.answer(std::unexpected(*refused));
  } else {
    m_ctx.wake();
  }
}

void BlockSource::refuse(std::optional<Error> why) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    // A refusal that goes on says the latest reason; one that begins fails what waits.
    bool const began = why.has_value() && !m_refusing.has_value();
    m_refusing = std::move(why);
    if (began) {
      for (auto& [name, r] : m_reserves) fail_waiters(r, *m_refusing, out);
      m_reserves.clear();
      m_fetch_queue.clear();
      m_fetch_urgent.clear();
    }
  }
  deliver(out);
}

void BlockSource::serve_waiters(Reserve& r, Deliveries& out) {
  while (!r.waiters.empty()) {
    Request& front = r.waiters.front();
    if (front.fence > m_read_done) break;
    if (start_for(r, front.count)) {
      Delivery d{std::move(front), {}, {}, Printing{r.format, r.period}};
      r.waiters.pop_front();
      take_numbers(r, d.request.count, d.numbers);
      out.push_back(std::move(d));
    } else if (r.run_out) {
      auto error = sequence_error(r.name, front.count, StoreError{StoreError::Kind::exhausted, {}});
      out.push_back(Delivery{std::move(front), {}, std::move(error), {}});
      r.waiters.pop_front();
    } else {
      // Admitted under an earlier life of the sequence, it may ask for more than one pass of
      // this one holds: no block would ever serve it.
      auto const* info = m_ctx.store.catalog().find(r.name);
      auto refused = info != nullptr ? beyond_one_pass(r.name, *info, front.count) : std::nullopt;
      if (!refused) break;
      out.push_back(Delivery{std::move(front), {}, std::move(refused), {}});
      r.waiters.pop_front();
    }
  }
}

void BlockSource::resume_locked(Reserve& r, Deliveries& out) {
  end_period_locked(r);
  serve_waiters(r, out);
  if ((!r.waiters.empty() && !r.run_out) || low(r)) want_block(r);
}

void BlockSource::fail_waiters(Reserve& r, Error const& error, Deliveries& out) {
  for (auto& request : r.waiters) out.push_back(Delivery{std::move(request), {}, error, {}});
  r.waiters.clear();
}

void BlockSource::deliver(Deliveries& out) {
  for (auto& d : out) {
    if (d.error) {
      d.request.answer(std::unexpected(*d.error));
    } else {
      m_ctx.metrics.numbers(d.request.name, d.request.count);
      d.request.answer(Numbers{NumbersView(d.numbers), std::move(d.printing)});
    }
  }
}

void BlockSource::erase_locked(Reserves::iterator it, Deliveries& out) {
  fail_waiters(it->second, not_found(it->first), out);
  if (it->second.available > 0) {
    spdlog::info("dropped {} reserved numbers of {}: it was dropped", it->second.available, it->first);
  }
  m_reserves.erase(it);
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
  // A request is told the database did not answer in time where its block was asked for and
  // the statement still runs, or the last one took too long; what the last one met where the
  // next waits for its pause; else (no free connection) late.
  auto const unanswered = unanswered_error(m_ctx.timeout);
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    for (auto name = m_waiting.begin(); name != m_waiting.end();) {
      auto found = m_reserves.find(*name);
      if (found == m_reserves.end() || found->second.waiters.empty()) {
        name = m_waiting.erase(name);
        continue;
      }
      // Not only from the front: a request that waited for the catalog joins behind later ones.
      auto& waiters = found->second.waiters;
      auto const met = found->second.retry.waiting_after(now);
      Error const& answer = found->second.fetching || found->second.timed_out ? unanswered : met ? *met : late;
      for (auto it = waiters.begin(); it != waiters.end();) {
        if (it->deadline <= now) {
          out.push_back(Delivery{std::move(*it), {}, answer, {}});
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
      ++name;
    }
  }
  deliver(out);
}

}  // namespace pez::daemon
