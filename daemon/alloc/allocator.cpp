// SPDX-License-Identifier: Apache-2.0
#include "daemon/alloc/allocator.hpp"

#include <spdlog/spdlog.h>

#include "common/names.hpp"
#include "common/sequence.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/alloc/sources.hpp"
#include "daemon/ops/log_throttle.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {
namespace {

using namespace std::chrono_literals;

// A name missing from a catalog read this recently is answered 404 without asking again.
constexpr auto k_catalog_fresh = 1s;
constexpr auto k_sweep_every = 50ms;
// Names found missing kept at most (a client asking for ever new names costs a read each, of
// those names alone, which requests waiting at the same time share).
constexpr std::size_t k_absent_max = 10'000;

SequenceShape shape_of(SequenceInfo const& info) {
  return SequenceShape{info.increment, info.min, info.max, info.start, info.cycle};
}

std::string advice_text(Advice advice) { return advice == Advice::try_again ? "; try again later" : ""; }

// pezd's own words, not libpq's: answered as they are (HTTP shortens a database's failure).
Error notices_refusal(std::string const& problem) {
  return Error{Errc::unavailable, "block mode cannot hand out numbers: " + problem + "; try again later"};
}

}  // namespace

std::optional<Error> beyond_one_pass(std::string const& name, SequenceInfo const& info, std::uint64_t count) {
  if (!info.cycle) return std::nullopt;
  auto const pass = numbers_per_pass(shape_of(info));
  if (count <= pass) return std::nullopt;
  return Error{Errc::bad_request, "sequence " + name + " holds " + std::to_string(pass) +
                                      " numbers before it starts over: one answer of more would repeat a number; ask "
                                      "for at most " +
                                      std::to_string(pass)};
}

Error unavailable_error(std::string const& why, Advice advice) {
  return Error{Errc::unavailable, "the database is unavailable: " + why + advice_text(advice)};
}

Error timeout_error(std::string const& why, Advice advice) {
  return Error{
      Errc::unavailable,
      why + ": it is overloaded or unreachable, or a transaction holds a lock pezd waits for" + advice_text(advice)};
}

Error unanswered_error(std::chrono::milliseconds request_timeout) {
  return timeout_error("the database did not answer within " + settings::format_duration(request_timeout) +
                       " (request_timeout)");
}

Error refused_error(std::string const& why) {
  return Error{Errc::unavailable, "pezd refuses to hand out numbers: " + why + "; try again later"};
}

Allocator::Allocator(CoreClock& clock, Store& store, Metrics& metrics, AllocatorOptions options)
    : m_clock(clock), m_store(store), m_options(options), m_sweep(clock.timer()) {
  SourceContext ctx{clock,
                    store,
                    metrics,
                    options.timeout,
                    [this] { arm_sweep(); },
                    [this](std::string const& name, std::int64_t value, bool exhausted, std::int32_t period) {
                      observed(name, value, exhausted, period);
                    }};
  m_strict = std::make_unique<StrictSource>(ctx, options.strict_batch);
  m_block = std::make_unique<BlockSource>(ctx, options.block);
}

Allocator::~Allocator() = default;

Source& Allocator::source_for(std::string_view name) {
  bool block = m_options.mode == Mode::block;
  if (auto const* info = m_store.catalog().find(name); info != nullptr && info->block) block = *info->block;
  return block ? static_cast<Source&>(*m_block) : *m_strict;
}

void Allocator::observed(std::string const& name, std::int64_t value, bool exhausted, std::int32_t period) {
  auto const* info = m_store.catalog().find(name);
  if (info == nullptr) return;
  Watch& w = m_watches[name];
  if (w.generation != info->generation) w = Watch{info->generation};
  if (period != 0 && period < w.period) return;  // a late answer of a period before
  if (period > w.period) {
    // A periodic sequence's counter starts again in each period: not a wrap (the period is part
    // of what is handed out), and it may run out again.
    if (w.period != 0) {
      spdlog::info("sequence {} entered a new period ({:04}-{:02}-{:02}): its counter started again", name,
                   period / 10000, period / 100 % 100, period % 100);
    }
    w = Watch{info->generation};
    w.period = period;
  }
  if (exhausted) {
    if (!w.ran_out) {
      spdlog::warn(
          "sequence {} has run out: it cannot hand out the numbers asked for and does not cycle; "
          "pez admin reset {} makes it hand out numbers again",
          name, name);
    }
    w.ran_out = true;
    w.used = 1;
    return;
  }
  bool const wrapped = w.has_last && (info->increment > 0 ? value < w.last : value > w.last);
  if (wrapped) {
    spdlog::warn("sequence {} wrapped: it starts over at {}, and numbers it handed out before come again", name,
                 info->increment > 0 ? info->min : info->max);
    w.warned = false;
  }
  w.last = value;
  w.has_last = true;
  w.used = used_after(shape_of(*info), value);
  if (w.used >= m_options.wrap_warning && !w.warned && m_options.wrap_warning < 1) {
    w.warned = true;
    spdlog::warn("sequence {} has used {:.1f}% of its range (setting wrap_warning is {}): {} after {}", name,
                 w.used * 100, m_options.wrap_warning, info->cycle ? "it wraps" : "it runs out",
                 info->increment > 0 ? info->max : info->min);
  }
}

void Allocator::sequence_changed(std::string const& name, std::int64_t generation) {
  // What is reserved goes now; what comes next waits for the catalog to show the sequence's new
  // settings (its mode above all).
  m_block->invalidate(name, generation);
  announce(name);
}

void Allocator::sequence_dropped(std::string const& name) {
  auto waiting = m_block->dropped(name);
  announce(name);
  // Answered from the catalog read announce asked for: 404, or the sequence created again.
  for (auto& request : waiting) admit(std::move(request));
}

void Allocator::announce(std::string const& name) {
  m_absent.erase(name);
  auto const read = m_store.refresh_entry(name);
  m_block->announced(name, read);
  // Requests that wait for the catalog, or come before that read is done, are answered from a
  // read that shows the change.
  auto& fence = m_announced[name];
  fence = std::max(fence, read);
  for (auto& request : m_waiting_for_catalog) {
    if (request.name == name) request.fence = std::max(request.fence, read);
  }
}

void Allocator::notice(std::string const& name) {
  // Anyone may send a notice on the channel: it makes this daemon read the catalog again, and
  // until that read is done it serves nothing of the sequence from memory. Nothing else.
  thread_local LogThrottle ignored_log;
  thread_local LogThrottle log;
  if (!check_sequence_name(name)) {
    if (ignored_log.allow()) {
      spdlog::info("ignored a change notice for {}: not a sequence name{}", quote_untrusted(name),
                   ignored_log.left_out_text());
    }
    return;
  }
  if (log.allow())
    spdlog::info("sequence {} was announced as changed: reading the catalog again{}", name, log.left_out_text());
  announce(name);
}

std::size_t Allocator::pending() const {
  return m_waiting_for_catalog.size() + m_strict->pending() + m_block->pending();
}

std::uint64_t Allocator::reserved(std::string_view name) const { return m_block->reserved(name); }

bool Allocator::serving() const {
  if (!m_store.up() || m_store.safety_problem()) return false;
  if (m_options.mode != Mode::block) return true;
  // Block mode refuses as check_notices last told it, until the core next hears from the store:
  // not ready while either still refuses.
  return !m_store.notices_problem() && !m_block_problem && !m_unsafe_problem;
}

bool Allocator::try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out, Printing& printing,
                         bool& refill) {
  // Only sequences served in block mode have numbers in memory.
  return m_block->try_take(name, count, out, printing, refill);
}

void Allocator::refill(std::string const& name) { m_block->refill(name); }

bool Allocator::warm_up(std::string const& name) {
  if (!m_store.catalog().loaded()) return false;
  if (m_store.catalog().find(name) == nullptr) return true;
  if (&source_for(name) != m_block.get()) return true;
  use_block();
  return m_block->warm_up(name);
}

void Allocator::use_block() {
  m_store.block_used();
  // While block mode refuses, its reason may just have changed (connections are probed again):
  // the refusal says the new one at once. It still ends only when the core next hears from the
  // store (check_notices).
  if (!m_block_problem || m_unsafe_problem) return;
  auto problem = m_store.notices_problem();
  if (!problem || problem == m_block_problem) return;
  m_block_problem = std::move(problem);
  m_block->refuse(notices_refusal(*m_block_problem));
}

void Allocator::allocate(std::string_view name, std::uint32_t count, AllocateHandler handler) {
  Request request{std::string(name), count, m_clock.now() + m_options.timeout, std::move(handler)};
  if (auto const unsafe = m_store.safety_problem()) {
    request.answer(std::unexpected(refused_error(*unsafe)));
    return;
  }
  if (m_store.down() && !source_for(name).can_answer_now(name, count)) {
    request.answer(std::unexpected(unavailable_error(m_store.last_error())));
    return;
  }
  admit(std::move(request));
}

void Allocator::admit(Request request) {
  auto const& catalog = m_store.catalog();
  if (auto it = m_announced.find(request.name); it != m_announced.end()) {
    request.fence = std::max(request.fence, it->second);
  }
  if (!catalog.loaded()) {
    m_waiting_for_catalog.push_back(std::move(request));
    arm_sweep();
    return;
  }
  auto const* info = catalog.find(request.name);
  if (info == nullptr) {
    auto const now = m_clock.now();
    bool fresh = now - catalog.refreshed_at() < k_catalog_fresh && !m_store.catalog_stale();
    if (!fresh) {
      auto const absent = m_absent.find(request.name);
      fresh = absent != m_absent.end() && now - absent->second < k_catalog_fresh;
    }
    if (request.fence <= catalog.read_number() && !fresh && m_store.catalog_complete()) {
      // Every sequence created through pez announces itself, and none was announced: a miss,
      // answered at once. Only a sequence made by hand can still be missing: its name is read
      // meanwhile (with the others the store gathers), so that it is served a moment later.
      if (m_looking_up.insert(request.name).second) m_store.look_up(request.name);
      request.answer(std::unexpected(not_found(request.name)));
      return;
    }
    if (request.fence <= catalog.read_number() && (fresh || m_store.down())) {
      request.answer(std::unexpected(not_found(request.name)));
      return;
    }
    // Answered once a read of the name that started after now is done.
    request.fence = std::max(request.fence, m_store.refresh_entry(request.name));
    m_waiting_for_catalog.push_back(std::move(request));
    arm_sweep();
    return;
  }
  if (!info->format_error.empty()) {
    request.answer(std::unexpected(
        Error{Errc::internal, "sequence " + request.name + " cannot be served: " + info->format_error +
                                  "; drop it and create it again with pez admin create (which checks the format)"}));
    return;
  }
  if (request.count == 0) {
    // Only whether it exists, and how its numbers are printed (pez check).
    request.answer(Numbers{NumbersView{}, Printing{info->format, 0}});
    return;
  }
  if (auto refused = beyond_one_pass(request.name, *info, request.count)) {
    request.answer(std::unexpected(std::move(*refused)));
    return;
  }
  if (request.fence > catalog.read_number()) {
    // A change was announced: the catalog may show an older life of the sequence (its mode).
    m_waiting_for_catalog.push_back(std::move(request));
    arm_sweep();
    return;
  }
  request.fence = 0;
  Source& source = source_for(request.name);
  if (&source == m_block.get()) use_block();
  source.take(std::move(request));
}

std::optional<std::string> Allocator::notices_problem() const { return m_store.notices_problem(); }

void Allocator::check_notices() {
  auto const unsafe = m_store.safety_problem();
  auto const problem = m_store.notices_problem();
  // The reasons are compared, not only whether there is one: a refusal says the latest.
  if (unsafe == m_unsafe_problem && problem == m_block_problem) return;
  if (unsafe.has_value() != m_unsafe_problem.has_value()) {
    if (unsafe) {
      spdlog::error("refusing to hand out numbers: {}", *unsafe);
      // Requests that wait for a connection are not sent.
      m_strict->database_down(refused_error(*unsafe));
    } else {
      spdlog::info("handing out numbers again: the reason to refuse is gone");
    }
  }
  if (problem.has_value() != m_block_problem.has_value()) {
    if (problem) {
      spdlog::error("block mode refuses to hand out numbers: {}", *problem);
    } else {
      spdlog::info("change notices arrive again: block mode hands out numbers");
    }
  }
  m_unsafe_problem = unsafe;
  m_block_problem = problem;
  std::optional<Error> refusal;
  if (unsafe) {
    refusal = refused_error(*unsafe);
  } else if (problem) {
    refusal = notices_refusal(*problem);
  }
  m_block->refuse(std::move(refusal));
}

void Allocator::connection_free() {
  check_notices();
  // The two sources take turns at going first, so that a busy one cannot starve the other.
  m_block_first = !m_block_first;
  if (m_block_first) m_block->pump();
  m_strict->pump();
  if (!m_block_first) m_block->pump();
}

void Allocator::remember_absent(std::string const& name, Clock::time_point now) {
  if (m_absent.size() >= k_absent_max) {
    std::erase_if(m_absent, [now](auto const& entry) { return now - entry.second >= k_catalog_fresh; });
    if (m_absent.size() >= k_absent_max) m_absent.clear();
  }
  m_absent.insert_or_assign(name, now);
}

void Allocator::catalog_read() {
  check_notices();
  auto const& catalog = m_store.catalog();
  auto const now = m_clock.now();
  if (catalog.last_read_whole()) {
    m_absent.clear();
    m_looking_up.clear();
  } else {
    for (auto const& name : catalog.last_read_names()) {
      m_looking_up.erase(name);
      if (catalog.find(name) == nullptr) remember_absent(name, now);
    }
  }
  std::erase_if(m_announced, [&](auto const& fence) { return fence.second <= catalog.read_number(); });
  auto moved = m_block->sync(
      catalog, [this](SequenceInfo const& info) { return info.block.value_or(m_options.mode == Mode::block); });
  auto waiting = std::move(m_waiting_for_catalog);
  m_waiting_for_catalog.clear();
  for (auto& request : moved) waiting.push_back(std::move(request));
  for (auto& request : waiting) {
    if (catalog.find(request.name) == nullptr && request.fence <= catalog.read_number()) {
      request.answer(std::unexpected(not_found(request.name)));
    } else if (catalog.find(request.name) == nullptr) {
      m_waiting_for_catalog.push_back(std::move(request));
    } else {
      admit(std::move(request));
    }
  }
}

void Allocator::database_down(Error const& error) {
  auto waiting = std::move(m_waiting_for_catalog);
  m_waiting_for_catalog.clear();
  m_strict->database_down(error);
  m_block->database_down(error);
  for (auto& request : waiting) request.answer(std::unexpected(error));
}

void Allocator::arm_sweep() {
  if (m_sweep->armed()) return;
  m_sweep->start(k_sweep_every, [this] { sweep(); });
}

void Allocator::sweep() {
  auto const now = m_clock.now();
  auto const late =
      unavailable_error("no answer within " + settings::format_duration(m_options.timeout) + " (request_timeout)");
  // Late requests are taken out first and answered last: an answer may lead its session to
  // send the next request at once.
  std::vector<Request> expired;
  for (auto it = m_waiting_for_catalog.begin(); it != m_waiting_for_catalog.end();) {
    if (it->deadline <= now) {
      expired.push_back(std::move(*it));
      it = m_waiting_for_catalog.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& request : expired) request.answer(std::unexpected(late));
  m_strict->expire(now, late);
  m_block->expire(now, late);
  if (pending() > 0) arm_sweep();
}

}  // namespace pez::daemon
