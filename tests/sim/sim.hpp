// SPDX-License-Identifier: Apache-2.0
// The deterministic simulation of the allocation core (DESIGN §1 and §5, "never twice").
//
// From a seed it builds one world: a fake database (fake_db.hpp), one to three pezd cores
// (daemon/alloc/core.hpp: Allocator, StrictSource, BlockSource, Admin, exactly as pezd runs them) each
// on its own fake Store with one to three connections, and one clock and event queue for all.
// Then it plays random requests of random counts for random sequences, admin changes of random
// shapes through the daemons and behind their backs, and faults: connections lost before or
// after the server ran a statement, statements timing out, a daemon cut off from the database,
// a daemon killed (what it sent may still run) and started again in its place, a daemon's process
// stopped for a while (what reaches it waits), a daemon's wall clock stepped, change notices late,
// twice, never, or forged by a stranger. Some sequences are periodic: they
// start again each period (of tens or hundreds of milliseconds here) of the database's clock,
// which jumps ahead now and then and in some worlds back. Every answer is checked against a
// model (see Model in sim.cpp); the first violation ends the run and names the seed, which
// replays it exactly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "daemon/alloc/store.hpp"

namespace pez::sim {

using daemon::Clock;

// splitmix64: the same numbers from the same seed on every machine.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next();
  // 0 .. n-1 (0 when n is 0).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  // lo .. hi, both included.
  std::int64_t between(std::int64_t lo, std::int64_t hi);
  // true percent times in a hundred.
  bool percent(unsigned percent) { return below(100) < percent; }
  Clock::duration micros(std::int64_t lo, std::int64_t hi) { return std::chrono::microseconds(between(lo, hi)); }

 private:
  std::uint64_t m_state;
};

// One clock and one queue of events, run in time order (ties in the order they were queued).
class Scheduler final : public daemon::CoreClock {
 public:
  Scheduler();
  Clock::time_point now() const override { return m_now; }
  // The wall clock: from 2030-01-01 00:00 UTC at the start, moving with the steady one, and on
  // alone while the machine slept.
  daemon::WallClock::time_point wall_now() const override;
  std::unique_ptr<daemon::CoreTimer> timer() override;
  // The machine slept for span: the wall clock moved on by it, the steady clock did not.
  void slept(Clock::duration span) { m_slept += span; }

  void at(Clock::time_point when, std::function<void()> fn);
  void after(Clock::duration delay, std::function<void()> fn) { at(m_now + delay, std::move(fn)); }
  // Runs the next event; false when there is none.
  bool step();
  bool empty() const { return m_events.empty(); }
  Clock::time_point start() const { return m_start; }

 private:
  struct Event {
    Clock::time_point when;
    std::uint64_t order;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(Event const& a, Event const& b) const {
      return a.when != b.when ? a.when > b.when : a.order > b.order;
    }
  };
  Clock::time_point m_start;
  Clock::time_point m_now;
  Clock::duration m_slept{};
  std::uint64_t m_order = 0;
  std::priority_queue<Event, std::vector<Event>, Later> m_events;
};

struct SeedResult {
  bool ok = true;
  std::string violation;  // the first one found, with the time and who
  std::uint64_t requests = 0;
  std::uint64_t answered_numbers = 0;
  std::uint64_t numbers = 0;
  std::uint64_t dated = 0;  // of those, numbers of periodic sequences (dated in a period)
  std::uint64_t changes = 0;
  std::uint64_t together = 0;        // creates given to the database with others (Store::create_many)
  std::uint64_t takes_together = 0;  // strict takes given to the database with others (Store::take_many)
  std::uint64_t faults = 0;
};

// Runs the world of one seed; trace prints every event of the run to out.
SeedResult run_seed(std::uint64_t seed, std::ostream* trace);

// Runs a script of operations on the fake database, one answer per line (test_fake_db.py runs
// the same script on PostgreSQL). Returns the exit code.
int run_script(std::istream& in, std::ostream& out);

}  // namespace pez::sim
