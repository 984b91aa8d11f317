// SPDX-License-Identifier: Apache-2.0
// The allocation core (daemon/alloc/core.hpp) in scenarios played by hand, for test_core*.cpp: a
// store whose statements run on the fake database (tests/sim/fake_db.hpp) when they are sent and
// whose answers arrive when the test says, in the order it says, on the simulation's clock.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <array>
#include <deque>
#include <memory>

#include "daemon/alloc/core.hpp"
#include "daemon/ops/metrics.hpp"
#include "fake_db.hpp"
#include "sim.hpp"

namespace pez::test {

using namespace std::chrono_literals;
using pez::daemon::AllocateResult;
using pez::daemon::AllocatorOptions;
using pez::daemon::Catalog;
using pez::daemon::Change;
using pez::daemon::Core;
using pez::daemon::Mode;
using pez::daemon::StoreError;
using pez::daemon::StoreEvents;
using pez::sim::FakeDb;
using pez::sim::Scheduler;

class ManualStore final : public pez::daemon::Store {
 public:
  ManualStore(FakeDb& db, Scheduler& clock, int connections) : m_db(db), m_clock(clock), m_free(connections) {}

  struct Pending {
    std::string what;
    std::function<void()> answer;
    std::function<void(StoreError)> fail;
  };
  std::deque<Pending> pending;
  int takes = 0;
  int reserves = 0;
  int catalog_reads = 0;
  // Every take fails with this, when set.
  std::optional<StoreError::Kind> takes_fail;
  // Every reserve fails with this, when set.
  std::optional<StoreError::Kind> reserves_fail;
  // The connections of the next statements answered break then: they are not offered again.
  int break_after_answer = 0;

  void set_events(StoreEvents* events) override { m_events = events; }
  bool can_send() const override { return m_free > 0; }
  void take(std::string const& name, std::uint32_t count, pez::daemon::TakeHandler handler) override {
    --m_free;
    ++takes;
    auto h = std::make_shared<pez::daemon::TakeHandler>(std::move(handler));
    auto r = std::make_shared<pez::daemon::TakeResult>(
        takes_fail ? pez::daemon::TakeResult(std::unexpected(StoreError{*takes_fail, "refused"}))
                   : to_result(m_db.take_dated(name, count)));
    push(
        "take " + name, [h, r] { (*h)(std::move(*r)); }, h);
  }
  void reserve(std::string const& name, std::uint64_t count, pez::daemon::ReserveHandler handler) override {
    --m_free;
    ++reserves;
    auto h = std::make_shared<pez::daemon::ReserveHandler>(std::move(handler));
    auto r = reserve_in_db(name, count);
    auto result = std::make_shared<pez::daemon::ReserveResult>(
        r ? pez::daemon::ReserveResult(*r) : pez::daemon::ReserveResult(std::unexpected(r.error())));
    push(
        "reserve " + name, [h, result] { (*h)(std::move(*result)); }, h);
  }
  // Several sequences in one statement, when the test sets batch above 1 (as k_reserve_many_sql).
  std::size_t batch = 1;
  std::size_t reserve_batch() const override { return batch; }
  void reserve_many(std::vector<pez::daemon::ReserveAsk> const& asks,
                    pez::daemon::ReserveManyHandler handler) override {
    --m_free;
    ++reserves;
    auto h = std::make_shared<pez::daemon::ReserveManyHandler>(std::move(handler));
    std::vector<pez::daemon::ReserveResult> blocks;
    std::string what = "reserve";
    for (auto const& ask : asks) {
      auto r = reserve_in_db(ask.name, ask.count);
      blocks.push_back(r ? pez::daemon::ReserveResult(*r) : pez::daemon::ReserveResult(std::unexpected(r.error())));
      what += " " + ask.name;
    }
    push(
        std::move(what), [h, blocks] { (*h)(blocks); }, h);
  }
  // Strict takes of several sequences in one statement, when the test sets take_batch_size above
  // 1 (as k_take_many_sql: each apart). Every take of it fails with takes_fail, when set.
  std::size_t take_batch_size = 1;
  std::size_t take_batch() const override { return take_batch_size; }
  void take_many(std::vector<pez::daemon::TakeAsk> const& asks, pez::daemon::TakeManyHandler handler) override {
    --m_free;
    ++takes;
    auto h = std::make_shared<pez::daemon::TakeManyHandler>(std::move(handler));
    std::string what = "take";
    for (auto const& ask : asks) what += " " + ask.name;
    if (takes_fail) {
      auto const kind = *takes_fail;
      push(
          std::move(what),
          [h, kind] {
            (*h)(std::unexpected(StoreError{kind, "refused"}));
          },
          h);
      return;
    }
    std::vector<pez::daemon::TakeResult> taken;
    taken.reserve(asks.size());
    for (auto const& ask : asks) taken.push_back(to_result(m_db.take_dated(ask.name, ask.count)));
    push(
        std::move(what), [h, taken] { (*h)(taken); }, h);
  }
  void change(Change const& change, pez::daemon::ChangeHandler handler) override {
    --m_free;
    auto h = std::make_shared<pez::daemon::ChangeHandler>(std::move(handler));
    pez::daemon::ChangeResult r = 0;
    if (change.op == Change::Op::reset) {
      auto g = m_db.reset(change.name, change.to);
      r = g ? pez::daemon::ChangeResult(*g) : pez::daemon::ChangeResult(std::unexpected(g.error()));
    } else if (change.op == Change::Op::drop) {
      auto g = m_db.drop(change.name);
      r = g ? pez::daemon::ChangeResult(0) : pez::daemon::ChangeResult(std::unexpected(g.error()));
    } else {
      auto g = m_db.create(change.spec);
      r = g ? pez::daemon::ChangeResult(*g) : pez::daemon::ChangeResult(std::unexpected(g.error()));
    }
    push(
        "change " + change.name, [h, r] { (*h)(r); }, h);
  }
  void describe(std::string const& name, pez::daemon::DescribeHandler handler) override {
    --m_free;
    auto h = std::make_shared<pez::daemon::DescribeHandler>(std::move(handler));
    auto rows = m_db.describe(name);
    push(
        "describe", [h, rows] { (*h)(rows); }, h);
  }
  Catalog const& catalog() const override { return m_catalog; }
  std::uint64_t refresh_catalog() override {
    m_wanted = true;
    auto const next = m_reads + 1;
    if (!m_reading && m_free > 0) read();
    return next;
  }
  bool catalog_stale() const override { return m_wanted || m_reading; }
  bool up() const override { return connected; }
  // Whether a connection is up (none: connecting), as a test sets it.
  bool connected = true;
  bool down() const override { return !down_because.empty(); }
  std::string last_error() const override { return down_because; }
  // Down, for this reason, when set.
  std::string down_because;
  std::optional<std::string> notices_problem() const override { return notices; }
  std::optional<std::string> notices;  // set by a test
  void block_used() override {
    ++block_uses;
    // As Database: its reason says, once block mode is used, that connections are probed again.
    if (notices && notices_once_block_used) notices = notices_once_block_used;
  }
  int block_uses = 0;
  std::optional<std::string> notices_once_block_used;  // set by a test
  std::optional<std::string> safety_problem() const override { return safety; }
  std::optional<std::string> safety;  // set by a test
  // Tells the core a connection is free (as the store does after a check of the server).
  void offer() {
    if (m_events) m_events->store_available();
  }

  // Answers the oldest statement; false when none waits.
  bool answer_next() {
    if (pending.empty()) return false;
    auto p = std::move(pending.front());
    pending.pop_front();
    p.answer();
    return true;
  }
  void answer_all() {
    while (answer_next()) {
    }
  }
  // Fails the oldest statement with error (whatever it took is burned).
  void fail_next(StoreError const& error) {
    REQUIRE_FALSE(pending.empty());
    auto p = std::move(pending.front());
    pending.pop_front();
    p.fail(error);
  }
  // Answers the statement at i (0: the oldest).
  void answer(std::size_t i) {
    auto p = std::move(pending[i]);
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
    p.answer();
  }

 private:
  std::expected<pez::daemon::Block, StoreError> reserve_in_db(std::string const& name, std::uint64_t count) {
    if (reserves_fail) return std::unexpected(StoreError{*reserves_fail, "refused"});
    return m_db.reserve(name, static_cast<std::int64_t>(count));
  }
  template <typename Handler>
  void push(std::string what, std::function<void()> deliver, std::shared_ptr<Handler> h) {
    pending.push_back(Pending{std::move(what),
                              [this, deliver] {
                                deliver();
                                if (break_after_answer > 0) {
                                  --break_after_answer;
                                  return;
                                }
                                release();
                              },
                              [this, h](StoreError e) {
                                (*h)(std::unexpected(std::move(e)));
                                release();
                              }});
  }
  static pez::daemon::TakeResult to_result(std::expected<pez::daemon::Taken, StoreError> r) {
    return r ? pez::daemon::TakeResult(std::move(*r)) : pez::daemon::TakeResult(std::unexpected(r.error()));
  }
  void read() {
    --m_free;
    m_wanted = false;
    m_reading = true;
    ++catalog_reads;
    auto const n = ++m_reads;
    auto snapshot = m_db.catalog();
    pending.push_back(Pending{"catalog",
                              [this, n, snapshot] {
                                m_catalog.replace(snapshot, m_clock.now(), n);
                                m_reading = false;
                                if (m_events) m_events->store_catalog();
                                release();
                              },
                              [this](StoreError) {
                                m_reading = false;
                                m_wanted = true;
                                release();
                              }});
  }
  void release() {
    ++m_free;
    if (m_wanted && !m_reading) {
      read();
      return;
    }
    if (m_events) m_events->store_available();
  }

  FakeDb& m_db;
  Scheduler& m_clock;
  int m_free;
  StoreEvents* m_events = nullptr;
  Catalog m_catalog;
  std::uint64_t m_reads = 0;
  bool m_wanted = false;
  bool m_reading = false;
};

// One daemon's core on a ManualStore, with the catalog read.
struct Rig {
  explicit Rig(Mode mode, int connections = 2, std::uint32_t strict_batch = 20000,
               pez::daemon::BlockOptions block = {10, 10, 30s}, std::chrono::milliseconds timeout = 5s,
               std::chrono::milliseconds admin_timeout = 10s)
      : store(db, clock, connections) {
    spdlog::set_level(spdlog::level::off);
    // The database's clock runs with the core's, from 2030-01-01 00:00 UTC; its periods last 100 ms.
    db.set_clock([this] { return clock.now(); });
    db.set_period_lengths(std::array<pez::daemon::Clock::duration, 3>{100ms, 100ms, 100ms});
    AllocatorOptions options;
    options.timeout = timeout;
    options.admin_timeout = admin_timeout;
    options.mode = mode;
    options.block = block;
    options.strict_batch = strict_batch;
    core = std::make_unique<Core>(clock, store, metrics, options);
    store.refresh_catalog();
    store.answer_all();
  }
  // Asks for count numbers of name; the answer lands in the returned slot.
  std::shared_ptr<std::optional<AllocateResult>> ask(std::string const& name, std::uint32_t count) {
    auto slot = std::make_shared<std::optional<AllocateResult>>();
    auto numbers = std::make_shared<std::vector<std::int64_t>>();
    core->allocator().allocate(name, count, [slot, numbers](AllocateResult r) {
      if (r) {
        numbers->assign(r->values.begin(), r->values.end());
        *slot = AllocateResult(pez::daemon::Numbers{pez::daemon::NumbersView(*numbers), r->printing});
      } else {
        *slot = r;
      }
    });
    keep.push_back(numbers);
    return slot;
  }
  std::vector<std::int64_t> numbers(std::shared_ptr<std::optional<AllocateResult>> const& slot) {
    REQUIRE(slot->has_value());
    REQUIRE((*slot)->has_value());
    return {(**slot)->values.begin(), (**slot)->values.end()};
  }
  // The period an answer is dated in (yyyymmdd; 0 for none).
  std::int32_t period(std::shared_ptr<std::optional<AllocateResult>> const& slot) {
    REQUIRE(slot->has_value());
    REQUIRE((*slot)->has_value());
    return (**slot)->printing.period;
  }
  pez::Errc error(std::shared_ptr<std::optional<AllocateResult>> const& slot) {
    REQUIRE(slot->has_value());
    REQUIRE_FALSE((*slot)->has_value());
    return (**slot).error().code;
  }
  void create(std::string const& name, std::int64_t min, std::int64_t max, bool cycle, std::int64_t increment = 1) {
    pez::CreateSpec spec;
    spec.name = name;
    spec.min = min;
    spec.max = max;
    spec.start = increment > 0 ? min : max;
    spec.increment = increment;
    spec.cycle = cycle;
    REQUIRE(db.create(spec));
  }
  // A daily sequence from min to max (its days last 100 ms here), in the catalog.
  // For statements of several sequences: a (cycling) and b with numbers to spare, m run out
  // behind the daemon's back and n with two numbers left (neither cycles), the catalog read.
  void create_spare_and_ending(bool b_cycles) {
    create("a", 1, 1000, true);
    create("b", 1, 1000, b_cycles);
    create("m", 1, 15, false);
    create("n", 1, 12, false);
    REQUIRE(db.take("m", 15));
    REQUIRE(db.take("n", 10));
    store.refresh_catalog();
    store.answer_all();
  }
  void create_daily(std::string const& name, std::int64_t min, std::int64_t max, bool cycle) {
    pez::CreateSpec spec;
    spec.name = name;
    spec.min = min;
    spec.max = max;
    spec.start = min;
    spec.cycle = cycle;
    spec.format = "D{YYYY}{MM}{DD}-{n}";
    spec.period = "daily";
    REQUIRE(db.create(spec));
    store.refresh_catalog();
    store.answer_all();
  }
  // Moves the clock on by span, running the timers that fall due; no statement is answered.
  void advance(pez::daemon::Clock::duration span) {
    auto const end = clock.now() + span;
    clock.at(end, [] {});
    while (clock.now() < end && clock.step()) {
    }
  }
  // Runs the clock until nothing is left to do (or the limit).
  // A core that never lets the clock move stops it after 100000 statements (the test then fails).
  void run_for(pez::daemon::Clock::duration span) {
    auto const end = clock.now() + span;
    int answers = 0;
    while (clock.now() < end && answers < 100000) {
      while (answers < 100000 && store.answer_next()) ++answers;
      if (!clock.step()) break;
    }
  }
  Scheduler clock;
  FakeDb db;
  pez::daemon::Metrics metrics;
  ManualStore store;
  std::unique_ptr<Core> core;
  std::vector<std::shared_ptr<std::vector<std::int64_t>>> keep;
};

// The message of an error answer (the test fails if it holds numbers, or none came).
inline std::string message(std::shared_ptr<std::optional<AllocateResult>> const& slot) {
  std::optional<AllocateResult> const& answer = *slot;
  if (!answer.has_value() || answer->has_value()) {
    FAIL("no answer, or numbers, where an error was expected");
    return {};
  }
  return answer->error().message;
}

}  // namespace pez::test
