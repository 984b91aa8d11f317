// SPDX-License-Identifier: Apache-2.0
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/sequence.hpp"
#include "common/text.hpp"
#include "daemon/alloc/sources.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {
namespace {

using namespace std::chrono_literals;

constexpr auto k_first_retry = 10ms;
constexpr auto k_longest_retry = 1000ms;

}  // namespace

void Retry::failed(Clock::time_point now, std::optional<Error> answered) {
  m_delay = m_delay == Clock::duration::zero() ? Clock::duration(k_first_retry)
                                               : std::min<Clock::duration>(m_delay * 2, k_longest_retry);
  m_at = now + m_delay;
  m_answered = std::move(answered);
}

Error sequence_error(std::string const& name, std::uint64_t count, StoreError const& error) {
  using Kind = StoreError::Kind;
  switch (error.kind) {
    case Kind::not_found:
      return not_found(name);
    case Kind::exhausted:
      if (count <= 1) {
        return Error{Errc::exhausted, "sequence " + quote_untrusted(name) +
                                          " has handed out its last number and does not cycle; reset it (pez "
                                          "admin reset) to hand out numbers again"};
      }
      return Error{Errc::exhausted, "sequence " + quote_untrusted(name) + " has fewer than " + std::to_string(count) +
                                        " numbers left and does not cycle; ask for fewer, or reset it (pez admin "
                                        "reset) to hand out numbers again"};
    case Kind::invalid:
      return Error{Errc::bad_request, error.message};
    case Kind::lost:
      return unavailable_error(error.message);
    case Kind::timeout:
      return timeout_error(error.message);
    case Kind::denied:
      return Error{Errc::internal, "pezd's database role may not take numbers from " + quote_untrusted(name) + " (" +
                                       error.message + "); run sql/grants.sql as the owner of schema pez"};
    case Kind::unreadable:
      return Error{Errc::internal, error.message};
    case Kind::exists:
    case Kind::in_use:
    case Kind::internal:
      break;
  }
  return Error{Errc::internal, "the database refused to hand out numbers: " + error.message};
}

StrictSource::StrictSource(SourceContext ctx, std::uint32_t batch_limit)
    : m_ctx(std::move(ctx)), m_batch_limit(batch_limit), m_retry_timer(m_ctx.clock.timer()) {}

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

bool StrictSource::waits(std::string const& name, Clock::time_point now) {
  // One statement at a time per sequence: requests that arrive meanwhile wait and go together in
  // the next one, so a daemon hands out numbers in the order their requests arrived.
  if (std::ranges::any_of(m_in_flight, [&](auto const& batch) { return batch->name == name; })) return true;
  auto it = m_retry.find(name);
  return it != m_retry.end() && it->second.ready_at() > now;
}

std::shared_ptr<StrictSource::Batch> StrictSource::gather(std::string const& name) {
  auto batch = std::make_shared<Batch>();
  batch->name = name;
  auto const* info = m_ctx.store.catalog().find(batch->name);
  bool one_by_one = false;
  if (auto it = m_one_by_one.find(batch->name); it != m_one_by_one.end()) {
    one_by_one = info != nullptr && info->generation == it->second;
    if (!one_by_one) m_one_by_one.erase(it);
  }
  // A cycling sequence gives no more in one statement than one pass holds, or the numbers of
  // one statement would repeat.
  std::uint64_t limit = m_batch_limit;
  if (info != nullptr && info->cycle) {
    limit = std::min<std::uint64_t>(
        limit, numbers_per_pass({info->increment, info->min, info->max, info->start, info->cycle}));
  }
  // The first request goes whatever its count; the others join while the total stays within
  // the limit.
  for (auto it = m_queue.begin(); it != m_queue.end();) {
    bool const first = batch->requests.empty();
    if (it->name == batch->name && (first || (!one_by_one && batch->total + it->count <= limit))) {
      batch->total += it->count;
      batch->requests.push_back(std::move(*it));
      it = m_queue.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

void StrictSource::pump() {
  auto const now = m_ctx.clock.now();
  std::optional<Clock::time_point> retry_at;
  std::size_t const limit = std::max<std::size_t>(1, m_ctx.store.take_batch());
  for (;;) {
    if (!m_ctx.store.can_send()) return;
    // The sequences that may go, in the order of their first waiting request, as many as one
    // statement takes from: each one's take runs apart (Store::take_many), so one refused costs
    // the others nothing.
    std::vector<std::string> names;
    for (auto const& request : m_queue) {
      if (names.size() == limit) break;
      if (std::ranges::find(names, request.name) != names.end() || waits(request.name, now)) continue;
      // One whose last statement took too long (a transaction may hold its lock) goes alone, at
      // its turn, until its own succeeds, so that it holds up no other.
      if (m_alone.contains(request.name)) {
        if (names.empty()) names.push_back(request.name);
        break;
      }
      names.push_back(request.name);
    }
    if (names.empty()) break;
    std::vector<std::shared_ptr<Batch>> group;
    group.reserve(names.size());
    for (auto const& name : names) group.push_back(gather(name));
    if (group.size() == 1) {
      run(group.front());
    } else {
      run_many(std::move(group));
    }
  }
  for (auto const& request : m_queue) {
    auto it = m_retry.find(request.name);
    if (it != m_retry.end() && it->second.ready_at() > now) {
      retry_at = retry_at ? std::min(*retry_at, it->second.ready_at()) : it->second.ready_at();
    }
  }
  if (retry_at) arm_retry(*retry_at);
}

void StrictSource::arm_retry(Clock::time_point at) {
  if (m_retry_timer->armed() && m_retry_due <= at) return;
  m_retry_due = at;
  m_retry_timer->start(std::max<Clock::duration>(at - m_ctx.clock.now(), Clock::duration::zero()), [this] { pump(); });
}

void StrictSource::run(std::shared_ptr<Batch> const& batch) {
  batch->sent = m_ctx.clock.now();
  m_in_flight.push_back(batch);
  m_ctx.metrics.db_round_trip();
  m_ctx.store.take(batch->name, batch->total, [this, batch](TakeResult result) { finish(batch, std::move(result)); });
}

void StrictSource::run_many(std::vector<std::shared_ptr<Batch>> group) {
  // In the order of their names: statements that lock sequences in one order cannot deadlock.
  std::ranges::sort(group, [](auto const& a, auto const& b) { return a->name < b->name; });
  std::vector<TakeAsk> asks;
  asks.reserve(group.size());
  auto const now = m_ctx.clock.now();
  for (auto const& batch : group) {
    batch->sent = now;
    m_in_flight.push_back(batch);
    asks.push_back(TakeAsk{batch->name, batch->total});
  }
  spdlog::debug("taking numbers of {} sequences in one statement", asks.size());
  m_ctx.metrics.db_round_trip();
  m_ctx.store.take_many(
      asks, [this, group = std::move(group)](TakeManyResult result) { finish_many(group, std::move(result)); });
}

void StrictSource::finish(std::shared_ptr<Batch> const& batch, TakeResult result) {
  bool const failed = !result;
  settle(batch, std::move(result));
  if (failed && m_ctx.store.down()) database_down(unavailable_error(m_ctx.store.last_error()));
  pump();
  deliver();
}

void StrictSource::finish_many(std::vector<std::shared_ptr<Batch>> const& group, TakeManyResult result) {
  if (result && result->size() != group.size()) {
    result = std::unexpected(unreadable_answer("a take of " + std::to_string(group.size()) + " sequences with " +
                                               std::to_string(result->size()) + " answers"));
  }
  bool failed = !result;
  for (std::size_t i = 0; i < group.size(); ++i) {
    // The statement's own failure is each one's, as if it had gone alone.
    TakeResult mine = result ? std::move((*result)[i]) : TakeResult(std::unexpected(result.error()));
    failed = failed || !mine;
    settle(group[i], std::move(mine));
  }
  if (failed && m_ctx.store.down()) database_down(unavailable_error(m_ctx.store.last_error()));
  pump();
  deliver();
}

void StrictSource::settle(std::shared_ptr<Batch> const& batch, TakeResult result) {
  std::erase(m_in_flight, batch);
  if (!result && result.error().kind == StoreError::Kind::timeout) {
    m_alone.insert(batch->name);
  } else if (auto it = m_alone.find(batch->name); it != m_alone.end()) {
    m_alone.erase(it);
  }
  if (result && result->numbers.size() != batch->total) {
    result = std::unexpected(unreadable_answer("a take with " + std::to_string(result->numbers.size()) +
                                               " numbers for " + std::to_string(batch->total)));
  }
  if (result) {
    hand_out(*batch, std::move(*result));
  } else {
    take_failed(*batch, result.error());
  }
}

void StrictSource::take_failed(Batch& batch, StoreError const& error) {
  using Kind = StoreError::Kind;
  if (error.kind == Kind::lost) {
    // Whatever this exchange took is burned; its requests try again, after a pause if this
    // keeps happening.
    m_retry[batch.name].failed(m_ctx.clock.now(), sequence_error(batch.name, batch.total, error));
    if (m_failure_log.allow()) {
      spdlog::warn("taking numbers from {} failed: {}; trying again{}", batch.name, error.message,
                   m_failure_log.left_out_text());
    }
    requeue(batch);
  } else if ((error.kind == Kind::exhausted || error.kind == Kind::invalid) && batch.requests.size() > 1) {
    // Nothing was taken: each request tries alone, so the numbers left go to those they
    // suffice for (or, for a shape the catalog did not show yet, each is judged alone).
    if (auto const* info = m_ctx.store.catalog().find(batch.name)) m_one_by_one[batch.name] = info->generation;
    requeue(batch);
  } else {
    refuse(batch, error);
  }
}

void StrictSource::refuse(Batch& batch, StoreError const& error) {
  using Kind = StoreError::Kind;
  auto const answer = sequence_error(batch.name, batch.total, error);
  if (error.kind == Kind::internal || error.kind == Kind::unreadable || error.kind == Kind::denied ||
      error.kind == Kind::timeout) {
    m_retry[batch.name].failed(m_ctx.clock.now(), answer);
    if (m_failure_log.allow()) {
      spdlog::error("taking numbers from {} failed: {}{}", batch.name, error.message, m_failure_log.left_out_text());
    }
  }
  if (answer.code == Errc::exhausted) m_ctx.observed(batch.name, 0, true, 0);
  if (answer.code == Errc::not_found) m_ctx.store.refresh_entry(batch.name);
  for (auto& request : batch.requests) {
    if (!request.answered()) request.answer(std::unexpected(answer));
  }
  if (answer.code == Errc::exhausted && batch.total == 1) refuse_waiting(batch, error);
}

void StrictSource::refuse_waiting(Batch const& batch, StoreError const& error) {
  // Not one number was left when the statement ran: the requests for it that were waiting
  // already then get the same answer (none is taken), rather than a statement each.
  std::vector<Request> none_left;
  for (auto it = m_queue.begin(); it != m_queue.end();) {
    if (it->name == batch.name && it->deadline - m_ctx.timeout <= batch.sent) {
      none_left.push_back(std::move(*it));
      it = m_queue.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& request : none_left) {
    request.answer(std::unexpected(sequence_error(request.name, request.count, error)));
  }
}

void StrictSource::hand_out(Batch& batch, Taken&& taken) {
  m_retry.erase(batch.name);
  Printing printing;
  printing.period = taken.period;
  if (auto const* info = m_ctx.store.catalog().find(batch.name)) printing.format = info->format;
  if (printing.format && printing.format->rules().period != number_template::Period::none && printing.period == 0) {
    // Taken as a sequence without period while the catalog says it has one, or the other way
    // round: the catalog is out of date (the sequence was created again). The numbers are
    // burned; the requests try again once the catalog is read.
    m_ctx.store.refresh_entry(batch.name);
    m_retry[batch.name].failed(m_ctx.clock.now());
    requeue(batch);
    return;
  }
  if (!taken.numbers.empty()) {
    m_ctx.observed(batch.name, taken.numbers.front(), false, taken.period);
    m_ctx.observed(batch.name, taken.numbers.back(), false, taken.period);
  }
  // The requests go with their numbers (an expired one keeps its place, unanswered); the batch
  // is no longer in flight, so nothing else answers them before deliver() does.
  m_ready.push_back(Ready{batch.name, std::move(taken.numbers), std::move(printing), std::move(batch.requests)});
  batch.requests.clear();
}

void StrictSource::deliver() {
  auto ready = std::move(m_ready);
  m_ready.clear();
  for (auto& statement : ready) {
    std::size_t at = 0;
    for (auto& request : statement.requests) {
      NumbersView const mine(statement.numbers.data() + at, request.count);
      at += request.count;
      if (!request.answered()) {
        m_ctx.metrics.numbers(statement.name, request.count);
        request.answer(Numbers{mine, statement.printing});
      }
    }
  }
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
  // A request whose sequence's statement is running is told that the database did not answer
  // in time; one that waits for its sequence's next try, what the last one met; one that waits
  // for a free connection, late.
  auto const unanswered = unanswered_error(m_ctx.timeout);
  std::vector<std::pair<Request, Error>> expired;
  for (auto it = m_queue.begin(); it != m_queue.end();) {
    if (it->deadline <= now) {
      bool const behind = std::ranges::any_of(m_in_flight, [&](auto const& batch) { return batch->name == it->name; });
      std::optional<Error> met;
      if (auto retry = m_retry.find(it->name); !behind && retry != m_retry.end())
        met = retry->second.waiting_after(now);
      expired.emplace_back(std::move(*it), behind ? unanswered : met ? *met : late);
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
  for (auto& [request, answer] : expired) request.answer(std::unexpected(std::move(answer)));
  for (auto& handler : in_flight) handler(std::unexpected(unanswered));
}

}  // namespace pez::daemon
