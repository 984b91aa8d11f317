// SPDX-License-Identifier: Apache-2.0
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "daemon/metrics.hpp"
#include "daemon/sources.hpp"

namespace pez::daemon {

namespace {

// The numbers of an answer given at once, without an allocation per request.
std::vector<std::int64_t>& scratch() {
  thread_local std::vector<std::int64_t> numbers;
  return numbers;
}

std::uint64_t numbers_in(std::int64_t from, std::int64_t to, std::int64_t step) {
  // Unsigned differences: the distance between any two int64 values fits in uint64.
  auto const distance = step > 0 ? static_cast<std::uint64_t>(to) - static_cast<std::uint64_t>(from)
                                 : static_cast<std::uint64_t>(from) - static_cast<std::uint64_t>(to);
  auto const stride = step > 0 ? static_cast<std::uint64_t>(step) : 0 - static_cast<std::uint64_t>(step);
  return distance / stride + 1;
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

bool BlockSource::period_over(Reserve const& r) const { return r.period_ends && m_ctx.clock.now() >= *r.period_ends; }

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
        if (!m_waiting.contains(r.name)) m_waiting.insert(r.name);
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
    if (why.has_value() == m_refusing.has_value()) return;
    m_refusing = std::move(why);
    if (m_refusing) {
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
      break;
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
        if (r.alone && !batch.empty()) return;
        alone = r.alone;
        queue.pop_front();
        r.queued = false;
        batch.push_back(&r);
      }
    };
    collect(m_fetch_urgent, later_urgent);
    collect(m_fetch_queue, later);
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
      asks, [this, asked = std::move(asked), asked_at = m_ctx.clock.now()](ReserveManyResult result) {
        if (result) {
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
      [this, name = r.name, epoch = r.epoch, generation = r.generation, size, asked_at = m_ctx.clock.now()](
          ReserveResult result) { fetched(name, epoch, generation, size, asked_at, std::move(result)); });
}

void BlockSource::fetched(std::string const& name, std::uint64_t epoch, std::int64_t generation, std::uint64_t asked,
                          Clock::time_point asked_at, ReserveResult result) {
  using Kind = StoreError::Kind;
  Deliveries out;
  bool refresh_catalog = false;
  std::vector<std::pair<std::int64_t, bool>> observe;  // told after the lock is released
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
      if (error.kind == Kind::lost || error.kind == Kind::timeout) {
        // The block is burned; ask again, after a pause if this keeps happening. Waiters wait
        // for their deadline.
        r.retry.failed(m_ctx.clock.now());
        if (m_failure_log.allow()) {
          spdlog::warn("reserving a block of {} failed: {}; trying again{}", name, error.message,
                       m_failure_log.left_out_text());
        }
        enqueue_locked(r);
      } else if (error.kind == Kind::exhausted && r.generation != generation) {
        // The sequence was reset while this was on its way: it may hold numbers again.
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
        observe.emplace_back(0, true);
        serve_waiters(r, out);
      } else if (error.kind == Kind::not_found) {
        erase_locked(it, out);
        refresh_catalog = true;
      } else {
        r.retry.failed(m_ctx.clock.now());
        if (m_failure_log.allow()) {
          spdlog::error("reserving a block of {} failed: {}{}", name, error.message, m_failure_log.left_out_text());
        }
        fail_waiters(r, sequence_error(name, asked, error), out);
      }
    } else {
      Reserve& r = it->second;
      r.fetching = false;
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
          observe.emplace_back(block.first, false);
          observe.emplace_back(block.last, false);
          if (count < asked) spdlog::info("sequence {} reached the end of its range", name);
        }
        resume_locked(r, out);
      }
    }
  }
  if (refresh_catalog) m_ctx.store.refresh_entry(name);
  for (auto const& [value, exhausted] : observe) m_ctx.observed(name, value, exhausted);
  deliver(out);
  if (m_ctx.store.down()) database_down(unavailable_error(m_ctx.store.last_error()));
}

bool BlockSource::add_block_locked(Reserve& r, Block const& block, Clock::time_point asked_at) {
  end_period_locked(r);
  if (block.period != 0 && block.valid_for) {
    // Handed out only while its period lasts here.
    auto const ends = asked_at + *block.valid_for - *block.valid_for / 1000;
    if (block.period < r.period || ends <= m_ctx.clock.now()) {
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
    r.period_ends = r.period_ends ? std::min(*r.period_ends, ends) : ends;
    r.run_out = false;
  } else if (r.period != 0) {
    // Created again without period (its ranges went with its generation).
    r.period = 0;
    r.period_ends.reset();
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

void BlockSource::invalidate_locked(Reserve& r, std::int64_t generation) {
  if (generation <= r.generation) return;
  r.generation = generation;
  std::erase_if(r.ranges, [generation](Range const& range) { return range.generation < generation; });
  std::uint64_t available = 0;
  r.new_passes = 0;
  for (auto& range : r.ranges) {
    available += numbers_in(range.next, range.last, range.step);
    if (&range == &r.ranges.front()) range.new_pass = false;
    if (range.new_pass) ++r.new_passes;
  }
  if (available != r.available)
    spdlog::info("dropped {} reserved numbers of {}: it was reset", r.available - available, r.name);
  r.available = available;
  r.run_out = false;
}

void BlockSource::erase_locked(Reserves::iterator it, Deliveries& out) {
  fail_waiters(it->second, not_found(it->first), out);
  if (it->second.available > 0) {
    spdlog::info("dropped {} reserved numbers of {}: it was dropped", it->second.available, it->first);
  }
  m_reserves.erase(it);
}

void BlockSource::invalidate(std::string const& name, std::int64_t generation) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end()) return;
    invalidate_locked(it->second, generation);
    resume_locked(it->second, out);
  }
  deliver(out);
}

std::vector<Request> BlockSource::dropped(std::string const& name) {
  Deliveries out;
  std::vector<Request> waiting;
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end()) return waiting;
    for (auto& request : it->second.waiters) waiting.push_back(std::move(request));
    it->second.waiters.clear();
    erase_locked(it, out);
  }
  deliver(out);
  return waiting;
}

void BlockSource::announced(std::string const& name, std::uint64_t read) {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  if (it != m_reserves.end()) {
    it->second.fence = std::max(it->second.fence, read);
  } else {
    // A reserve made before that read is done waits for it too.
    auto& fence = m_fences[name];
    fence = std::max(fence, read);
  }
}

std::vector<Request> BlockSource::sync(Catalog const& catalog,
                                       std::function<bool(SequenceInfo const&)> const& in_block_mode) {
  Deliveries out;
  std::vector<Request> moved;
  {
    std::lock_guard lock(m_lock);
    m_read_done = std::max(m_read_done, catalog.read_number());
    std::erase_if(m_fences, [this](auto const& fence) { return fence.second <= m_read_done; });
    auto sync_one = [&](Reserves::iterator it) {
      if (auto const* info = catalog.find(it->first); info == nullptr) {
        erase_locked(it, out);
      } else if (!in_block_mode(*info)) {
        // Now served in strict mode (created again with another mode): what is reserved goes,
        // so that no number taken before a request came is handed to it.
        for (auto& request : it->second.waiters) moved.push_back(std::move(request));
        it->second.waiters.clear();
        erase_locked(it, out);
      } else {
        it->second.format = info->format;
        it->second.periodic = info->periodic;
        invalidate_locked(it->second, info->generation);
        resume_locked(it->second, out);
      }
    };
    if (catalog.last_read_whole()) {
      for (auto it = m_reserves.begin(); it != m_reserves.end();) sync_one(it++);
    } else {
      // A read of some names: only their reserves can have changed (with 10,000 sequences, a
      // change of one costs the same as with one).
      for (auto const& name : catalog.last_read_names()) {
        if (auto it = m_reserves.find(name); it != m_reserves.end()) sync_one(it);
      }
    }
  }
  deliver(out);
  return moved;
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
    for (auto name = m_waiting.begin(); name != m_waiting.end();) {
      auto found = m_reserves.find(*name);
      if (found == m_reserves.end() || found->second.waiters.empty()) {
        name = m_waiting.erase(name);
        continue;
      }
      // Not only from the front: a request that waited for the catalog joins behind later ones.
      auto& waiters = found->second.waiters;
      for (auto it = waiters.begin(); it != waiters.end();) {
        if (it->deadline <= now) {
          out.push_back(Delivery{std::move(*it), {}, late, {}});
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
