// SPDX-License-Identifier: Apache-2.0
#include "sim.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <tuple>

#include "common/admin.hpp"
#include "common/sequence.hpp"
#include "daemon/alloc/core.hpp"
#include "daemon/ops/metrics.hpp"
#include "fake_db.hpp"

namespace pez::sim {

using namespace std::chrono_literals;
using daemon::AllocateResult;
using daemon::Catalog;
using daemon::Change;
using daemon::ChangeResult;
using daemon::DescribeResult;
using daemon::ReserveResult;
using daemon::StoreEvents;
using daemon::TakeResult;

// ---------------------------------------------------------------------------------------------
// Rng and Scheduler

std::uint64_t Rng::next() {
  std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::int64_t Rng::between(std::int64_t lo, std::int64_t hi) {
  auto const span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  auto const offset = span == std::numeric_limits<std::uint64_t>::max() ? next() : below(span + 1);
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);
}

namespace {

// A daemon's process stopped and continued (SIGSTOP and SIGCONT, a virtual machine paused, a
// machine swapping): while stopped it runs nothing; what reached it meanwhile (answers, notices,
// requests, the ends of its timers) runs once it goes on, in the order it came. The database,
// other daemons and the clocks go on.
class Freeze {
 public:
  explicit Freeze(Scheduler& scheduler) : m_scheduler(scheduler) {}
  void until(Clock::time_point t) { m_until = std::max(m_until, t); }
  // fn now, or once the process goes on.
  void run(std::function<void()> fn) {
    if (m_scheduler.now() >= m_until) {
      fn();
      return;
    }
    m_scheduler.at(m_until, [this, fn = std::move(fn)]() mutable { run(std::move(fn)); });
  }

 private:
  Scheduler& m_scheduler;
  Clock::time_point m_until{};
};

// freeze: the process the timer's callback runs in (none for the world's own timers).
class SimTimer final : public daemon::CoreTimer {
 public:
  SimTimer(Scheduler& scheduler, Freeze* freeze)
      : m_scheduler(scheduler), m_freeze(freeze), m_state(std::make_shared<State>()) {}
  ~SimTimer() override { ++m_state->epoch; }
  void start(Clock::duration delay, std::function<void()> fn) override {
    auto const epoch = ++m_state->epoch;
    m_state->armed = true;
    auto fire = [state = m_state, epoch, fn = std::move(fn)] {
      if (state->epoch != epoch) return;
      state->armed = false;
      fn();
    };
    if (m_freeze == nullptr) {
      m_scheduler.after(delay, std::move(fire));
    } else {
      m_scheduler.after(delay, [freeze = m_freeze, fire = std::move(fire)]() mutable { freeze->run(std::move(fire)); });
    }
  }
  void cancel() override {
    ++m_state->epoch;
    m_state->armed = false;
  }
  bool armed() const override { return m_state->armed; }

 private:
  struct State {
    std::uint64_t epoch = 0;
    bool armed = false;
  };
  Scheduler& m_scheduler;
  Freeze* m_freeze;
  std::shared_ptr<State> m_state;
};

}  // namespace

Scheduler::Scheduler() : m_start(Clock::time_point{} + std::chrono::hours(1000)), m_now(m_start) {}

daemon::WallClock::time_point Scheduler::wall_now() const {
  using namespace std::chrono;
  return daemon::WallClock::time_point(sys_days(year(2030) / January / 1)) +
         duration_cast<daemon::WallClock::duration>(m_now - m_start + m_slept);
}

std::unique_ptr<daemon::CoreTimer> Scheduler::timer() { return std::make_unique<SimTimer>(*this, nullptr); }

void Scheduler::at(Clock::time_point when, std::function<void()> fn) {
  m_events.push(Event{std::max(when, m_now), m_order++, std::move(fn)});
}

bool Scheduler::step() {
  if (m_events.empty()) return false;
  Event event = m_events.top();
  m_events.pop();
  m_now = event.when;
  event.fn();
  return true;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The model: what every answer must satisfy.
//
// - Every number a daemon hands out was handed to that daemon by the database (an issue: a take
//   or a reserve), for that sequence, and is used once: so no number is given twice within one
//   life (create to drop), generation (create or reset), period and pass (wrap) of a sequence.
// - A periodic sequence's answer is dated (Printing::period) in the period of the issues its
//   numbers come from, all one period: a take's (strict mode) or a block's. A block's numbers are
//   handed out only before its period ends, by the database's clock as it ran when it reserved
//   the block (a daemon cannot see that clock jump later); no answer is dated in a period the
//   database's clock had not reached yet. An answer of a sequence without period is not dated.
// - A take's numbers are used only by requests that arrived before the take ran (strict mode is
//   linearizable), and only when its answer is delivered; what it took beyond them is burned.
// - A request that arrived once its daemon knew of a change of the sequence (its own admin
//   command answered, a notice heard, or a catalog read that saw it) gets no number the database
//   handed out before that change.
// - Every number lies within the bounds of its sequence and on its step (from the start or the
//   reset value in the first pass, from min or max after a wrap); within one answer the numbers
//   share a generation, follow the direction within a pass, and never repeat.
// - 409 only when the database and the daemon's own reserve together hold fewer numbers than
//   asked for (a periodic sequence's counted as a take would find them now: a new period starts
//   it again), or up to a second after the database told the daemon it ran out in a period that
//   has ended since; 404 only when the sequence was missing during the request, or its daemon
//   did not know of its creation; 400 only when a cycling shape holds fewer numbers per pass than
//   asked for; 503 only in a world with faults; nothing else.
// - Every request is answered once, by its deadline (and the sweep that notices it).
// - An admin create is refused (400) exactly when its shape is invalid.
class Model {
 public:
  Model(FakeDb& db, Scheduler& clock) : m_db(db), m_clock(clock) {}

  std::optional<std::string> violation;
  SeedResult* stats = nullptr;
  bool faults = false;

  void fail(std::string what) {
    if (!violation) violation = "at " + std::to_string(elapsed_us()) + "us: " + std::move(what);
  }
  std::int64_t elapsed_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(m_clock.now() - m_clock.start()).count();
  }

  // The database ran a change (after it committed).
  void changed(std::string const& name) {
    Change c;
    c.op = m_db.ops();
    c.exists = m_db.exists(name);
    if (c.exists) {
      c.life = m_db.life_of(name);
      auto const* info = m_db.info(name);
      c.info = *info;
      m_lives[c.life] = *info;
    }
    m_changes[name].push_back(c);
  }
  // A sequence that exists from the start without a change (forward, reverse, or made by hand).
  void exists_from_start(std::string const& name) {
    m_lives[m_db.life_of(name)] = *m_db.info(name);
    m_initial.insert(name);
  }

  // A daemon knows of every change of name committed up to op (inclusive).
  void knows(int daemon, std::string const& name, std::uint64_t op) {
    auto& k = m_known[{daemon, name}];
    k = std::max(k, op);
  }
  void knows_all(int daemon, std::uint64_t op) {
    auto& k = m_known_all[daemon];
    k = std::max(k, op);
  }

  std::uint64_t issue(int daemon, std::string const& name, bool block, std::vector<std::int64_t> const& values,
                      std::vector<Origin> const& origins, std::optional<Clock::time_point> period_ends) {
    Issue is;
    is.period_ends = period_ends;
    is.daemon = daemon;
    is.name = name;
    is.block = block;
    is.op = m_db.ops();
    is.values = values;
    is.origins = origins;
    is.used.assign(values.size(), false);
    auto const id = m_issues.size();
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto const& o = origins[i];
      if (!m_issued.insert({o.life, o.generation, o.period, o.pass, values[i]}).second) {
        fail("the fake database handed out " + std::to_string(values[i]) + " of " + name + " twice (period " +
             std::to_string(o.period) + ")");
      }
      m_index[{daemon, name, values[i]}].push_back({id, i});
    }
    m_issues.push_back(std::move(is));
    return id;
  }
  // The transaction that took issue id rolled back: its numbers were never handed out (a
  // period it entered is left again, and a later take that enters it anew may find them again).
  void withdraw(std::uint64_t id) {
    Issue& is = m_issues[id];
    is.withdrawn = true;
    for (std::size_t i = 0; i < is.values.size(); ++i) {
      auto const& o = is.origins[i];
      m_issued.erase({o.life, o.generation, o.period, o.pass, is.values[i]});
    }
  }
  void delivered(std::uint64_t id) {
    if (m_issues[id].withdrawn)
      fail("issue " + std::to_string(id) + " was delivered after its transaction rolled back");
    m_issues[id].delivered = true;
    m_issues[id].delivered_at = m_clock.now();
  }
  void closed(std::uint64_t id) { m_issues[id].closed = true; }
  // Daemon heard from the database that name had run out in period (a take or reserve refused as
  // exhausted).
  void ran_out(int daemon, std::string const& name, std::int32_t period) {
    auto& heard = m_ran_out[{daemon, name}];
    std::erase_if(heard, [this](auto const& h) { return h.first + 1s < m_clock.now(); });
    heard.emplace_back(m_clock.now(), period);
  }

  struct AdminAsk {
    int daemon = 0;
    std::string what;
    Clock::time_point sent;
    Clock::time_point latest;
    bool answered = false;
  };

  struct Request {
    int daemon = 0;
    std::string name;
    std::uint32_t count = 0;
    Clock::time_point arrival;
    Clock::time_point deadline;
    std::uint64_t arrival_op = 0;
    std::uint64_t known_change = 0;  // the latest change of name its daemon knew of on arrival
    bool knew_all = false;           // its daemon knew of every change of name on arrival
    bool strict = false;             // and the sequence is in strict mode there
    bool answered = false;
    bool abandoned = false;  // its daemon died first: its client sees the connection close
  };

  std::size_t arrive(int daemon, std::string const& name, std::uint32_t count, Clock::duration timeout,
                     bool block_default) {
    Request r;
    r.daemon = daemon;
    r.name = name;
    r.count = count;
    r.arrival = m_clock.now();
    r.deadline = r.arrival + timeout;
    r.arrival_op = m_db.ops();
    auto const known = known_op(daemon, name);
    auto const& log = m_changes[name];
    r.known_change = 0;
    r.knew_all = true;
    for (auto const& c : log) {
      if (c.op <= known) {
        r.known_change = c.op;
      } else {
        r.knew_all = false;
      }
    }
    if (auto const* info = m_db.info(name); info != nullptr && r.knew_all)
      r.strict = !info->block.value_or(block_default);
    m_requests.push_back(std::move(r));
    ++stats->requests;
    return m_requests.size() - 1;
  }

  // held: the daemon's own reserve of the sequence when it answered.
  void answer(std::size_t id, AllocateResult const& result, std::uint64_t held) {
    Request& r = m_requests[id];
    if (r.abandoned) return;  // what a dead daemon does reaches nobody
    std::string const who = "request " + std::to_string(id) + " (daemon " + std::to_string(r.daemon) + ", " + r.name +
                            ", count " + std::to_string(r.count) + ")";
    if (r.answered) {
      fail(who + " was answered twice");
      return;
    }
    r.answered = true;
    // The sweep notices a late request within 50 ms; a request from another thread reaches the
    // core up to 200 us after it came; a daemon whose process was stopped answers that much later.
    if (m_clock.now() > r.deadline + 50ms + 1ms + stopped(r.daemon, r.arrival)) {
      fail(who + " was answered " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(m_clock.now() - r.deadline).count()) +
           " ms after its deadline");
    }
    if (result) {
      numbers(r, who, *result);
      return;
    }
    auto const& error = result.error();
    switch (error.code) {
      case Errc::exhausted: {
        auto const left = m_db.left_now(r.name);  // what a take would find now
        bool const settled = r.knew_all && !changed_since(r.name, r.arrival_op);
        if (settled && left && *left + held >= r.count && !ran_out_in_a_period_before(r)) {
          fail(who + " got 409 (" + error.message + ") though " + std::to_string(*left) +
               " numbers are left in the database and " + std::to_string(held) + " in its reserve");
        }
        return;
      }
      case Errc::not_found: {
        if (!missing_since(r.name, r.arrival_op) && r.knew_all) {
          fail(who + " got 404 though the sequence existed all along and its daemon knew: " + error.message);
        }
        return;
      }
      case Errc::bad_request: {
        bool ok = false;
        for (auto const& [life, info] : m_lives) {
          SequenceShape const shape{info.increment, info.min, info.max, info.start, info.cycle};
          ok = ok || (info.name == r.name && info.cycle && numbers_per_pass(shape) < r.count);
        }
        if (!ok) fail(who + " got 400: " + error.message);
        return;
      }
      case Errc::unavailable:
        if (!faults) fail(who + " got 503 in a world without faults: " + error.message);
        return;
      default:
        fail(who + " got " + std::string(errc_token(error.code)) + ": " + error.message);
    }
  }

  // Daemon died (its process was killed): the requests and admin commands it has not answered
  // get no answer.
  void abandon(int daemon) {
    for (auto& r : m_requests) {
      if (r.daemon == daemon && !r.answered) r.abandoned = r.answered = true;
    }
    for (auto& a : m_admin) {
      if (a.daemon == daemon) a.answered = true;
    }
  }

  // An admin command through a daemon: answered within four times admin_timeout (a wait for a
  // connection and a statement, for the change and again for reading it back), and the sweeps.
  std::size_t admin_sent(int daemon, std::string what, Clock::duration admin_timeout) {
    m_admin.push_back(
        AdminAsk{daemon, std::move(what), m_clock.now(), m_clock.now() + 4 * admin_timeout + 250ms, false});
    return m_admin.size() - 1;
  }
  void admin_answered(std::size_t id) {
    auto& a = m_admin[id];
    if (a.answered) return;  // its daemon died first
    a.answered = true;
    if (m_clock.now() > a.latest + stopped(a.daemon, a.sent))
      fail("admin " + a.what + " (daemon " + std::to_string(a.daemon) + ") was answered late");
  }

  // Daemon daemon's process is stopped from now until until (World's Freeze).
  void frozen(int daemon, Clock::time_point until) { m_frozen.push_back(Stop{daemon, m_clock.now(), until}); }
  // How long daemon's process was stopped since since: what it had to answer waited that much more.
  Clock::duration stopped(int daemon, Clock::time_point since) const {
    Clock::duration total{};
    for (auto const& stop : m_frozen) {
      auto const from = std::max(stop.from, since);
      auto const to = std::min(stop.until, m_clock.now());
      if (stop.daemon == daemon && to > from) total += to - from;
    }
    return total;
  }

  void finish() {
    for (std::size_t i = 0; i < m_requests.size(); ++i) {
      if (!m_requests[i].answered) {
        fail("request " + std::to_string(i) + " (daemon " + std::to_string(m_requests[i].daemon) + ", " +
             m_requests[i].name + ") was never answered");
      }
    }
    for (auto const& a : m_admin) {
      if (!a.answered) fail("admin " + a.what + " (daemon " + std::to_string(a.daemon) + ") was never answered");
    }
  }

  // An admin create through a daemon was answered.
  void create_answered(CreateSpec const& spec, bool valid, daemon::AdminResult const& result) {
    if (result && !valid) fail("admin create of " + spec.name + " with an invalid shape was accepted");
    if (!result && valid && result.error().code == Errc::bad_request) {
      fail("admin create of " + spec.name + " with a valid shape was refused: " + result.error().message);
    }
    if (!result && !valid && result.error().code != Errc::bad_request) {
      fail("admin create of " + spec.name + " with an invalid shape got " +
           std::string(errc_token(result.error().code)));
    }
  }

 private:
  struct Change {
    std::uint64_t op = 0;
    bool exists = false;
    std::uint64_t life = 0;
    SequenceInfo info;
  };
  struct Issue {
    std::optional<Clock::time_point> period_ends;  // a block of a periodic sequence's
    int daemon = 0;
    std::string name;
    bool block = false;
    std::uint64_t op = 0;
    bool delivered = false;
    Clock::time_point delivered_at{};
    bool closed = false;
    bool withdrawn = false;  // its transaction rolled back
    std::vector<std::int64_t> values;
    std::vector<Origin> origins;
    std::vector<bool> used;
  };

  std::uint64_t known_op(int daemon, std::string const& name) const {
    std::uint64_t k = 0;
    if (auto it = m_known.find({daemon, name}); it != m_known.end()) k = it->second;
    if (auto it = m_known_all.find(daemon); it != m_known_all.end()) k = std::max(k, it->second);
    return k;
  }
  // A periodic sequence's daemon may answer 409 for a second after it heard that it ran out
  // (block mode asks again then): meanwhile a new period may have begun, with numbers again.
  bool ran_out_in_a_period_before(Request const& r) const {
    auto it = m_ran_out.find({r.daemon, r.name});
    if (it == m_ran_out.end()) return false;
    return std::ranges::any_of(it->second, [&](auto const& heard) {
      auto const [at, period] = heard;
      return period != 0 && period < m_db.period_now(r.name) && m_clock.now() <= at + 1s;
    });
  }
  bool changed_since(std::string const& name, std::uint64_t op) {
    auto const& log = m_changes[name];
    return std::ranges::any_of(log, [op](Change const& c) { return c.op > op; });
  }
  // Whether name was missing at some moment from operation since until now.
  bool missing_since(std::string const& name, std::uint64_t since) {
    bool existed = m_initial.contains(name);
    for (auto const& c : m_changes[name]) {
      if (c.op <= since) {
        existed = c.exists;
      } else if (!c.exists) {
        return true;
      }
    }
    return !existed || !m_db.exists(name);
  }

  using Candidate = std::pair<std::size_t, std::size_t>;  // issue, position in it

  // Whether the numbers of one answer may come from these places: one life, generation and
  // period, the passes in order, and the sequence's direction within a pass.
  bool consistent(Origin const& a, std::int64_t x, Origin const& b, std::int64_t y) {
    if (a.life != b.life || a.generation != b.generation || a.period != b.period || b.pass < a.pass) return false;
    auto const step = m_lives[a.life].increment;
    return a.pass != b.pass || (step > 0 ? y > x : y < x);
  }

  // Finds where each number of an answer came from: among the numbers the database handed to
  // the daemon (several copies of a number may have been handed to it, in other passes or
  // generations), an assignment consistent within the answer, trying the issue of the number
  // before first, then a take that just arrived, then the oldest.
  // failed: the places (number, candidate before it) from which no assignment of the rest
  // exists, so that the search tries each once.
  bool assign(std::vector<std::vector<Candidate>> const& candidates, daemon::NumbersView values, std::size_t i,
              std::vector<Candidate>& chosen, std::set<std::pair<std::size_t, Candidate>>& failed) {
    if (i == values.size()) return true;
    Candidate const before = i > 0 ? chosen[i - 1] : Candidate{};
    if (failed.contains({i, before})) return false;
    auto order = candidates[i];
    std::ranges::stable_sort(order, [&](Candidate const& a, Candidate const& b) {
      bool const a_same = i > 0 && a.first == chosen[i - 1].first;
      bool const b_same = i > 0 && b.first == chosen[i - 1].first;
      if (a_same != b_same) return a_same;
      // A strict answer comes from the take that just arrived; block mode serves its oldest
      // ranges first.
      bool const a_now = !m_issues[a.first].block && m_issues[a.first].delivered_at == m_clock.now();
      bool const b_now = !m_issues[b.first].block && m_issues[b.first].delivered_at == m_clock.now();
      if (a_now != b_now) return a_now;
      return m_issues[a.first].op < m_issues[b.first].op;
    });
    for (auto const& c : order) {
      if (i > 0) {
        auto const& p = chosen[i - 1];
        if (!consistent(m_issues[p.first].origins[p.second], values[i - 1], m_issues[c.first].origins[c.second],
                        values[i])) {
          continue;
        }
      }
      chosen.push_back(c);
      if (assign(candidates, values, i + 1, chosen, failed)) return true;
      chosen.pop_back();
    }
    failed.insert({i, before});
    return false;
  }

  // Where number x of an answer dated period may come from: the places the database handed it to
  // the daemon, for the sequence, after the request came (strict mode) or after every change its
  // daemon knew of, not used yet, in that period and, for a block, before that period ended.
  // Empty, with why, when there is none.
  std::vector<Candidate> candidates_for(Request const& r, std::int64_t x, std::int32_t period, std::string& why) {
    std::vector<Candidate> out;
    bool other_period = false;
    bool over = false;
    if (auto it = m_index.find({r.daemon, r.name, x}); it != m_index.end()) {
      for (auto const& [issue_id, at] : it->second) {
        Issue const& is = m_issues[issue_id];
        if (!is.delivered || is.closed || is.used[at]) continue;
        if (is.op <= r.known_change) continue;  // from before a change its daemon knew of
        // A take, or any number in strict mode, is taken after the request came.
        if ((!is.block || r.strict) && is.op <= r.arrival_op) continue;
        if (is.origins[at].period != period) {
          other_period = true;
        } else if (is.period_ends && m_clock.now() >= *is.period_ends) {
          over = true;
        } else {
          out.emplace_back(issue_id, at);
        }
      }
    }
    if (out.empty()) {
      why = over           ? ", dated " + std::to_string(period) + ", a period that had ended (the database's clock)"
            : other_period ? ", dated " + std::to_string(period) + ", but handed to it in another period"
                           : ", which the database did not hand to that daemon for it after the request came and after "
                             "every change its daemon knew of (or which it handed out before)";
    }
    return out;
  }

  void numbers(Request const& r, std::string const& who, daemon::Numbers const& answer) {
    auto const values = answer.values;
    auto const period = answer.printing.period;
    if (values.size() != r.count) {
      fail(who + " got " + std::to_string(values.size()) + " numbers");
      return;
    }
    std::set<std::int64_t> seen;
    std::vector<std::vector<Candidate>> candidates(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto const x = values[i];
      if (!seen.insert(x).second) fail(who + " got " + std::to_string(x) + " twice in one answer");
      std::string why;
      candidates[i] = candidates_for(r, x, period, why);
      if (candidates[i].empty()) {
        fail(who + " got " + std::to_string(x) + why);
        return;
      }
    }
    std::vector<Candidate> chosen;
    std::set<std::pair<std::size_t, Candidate>> failed;
    if (!assign(candidates, values, 0, chosen, failed)) {
      std::string list;
      for (auto const x : values) list += " " + std::to_string(x);
      fail(who +
           " got numbers that cannot come from one life, generation, period and direction of the sequence:" + list);
      return;
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      Issue& is = m_issues[chosen[i].first];
      is.used[chosen[i].second] = true;
      Origin const o = is.origins[chosen[i].second];
      if (!m_served.insert({o.life, o.generation, o.period, o.pass, values[i]}).second) {
        fail(who + " got " + std::to_string(values[i]) + ", handed out before in the same life, generation, period " +
             std::to_string(o.period) + " and pass");
      }
      check_place(who, values[i], o);
      ++stats->numbers;
    }
    ++stats->answered_numbers;
    if (period != 0) {
      stats->dated += values.size();
      auto const periods = m_db.periods_of(m_issues[chosen.front().first].origins[chosen.front().second].life);
      if (period > periods.key(periods.index_at(m_db.latest()))) {
        fail(who + " is dated " + std::to_string(period) + ", a period the database's clock had not reached");
      }
    }
  }

  void check_place(std::string const& who, std::int64_t x, Origin const& o) {
    auto it = m_lives.find(o.life);
    if (it == m_lives.end()) {
      fail(who + ": unknown life");
      return;
    }
    auto const& shape = it->second;
    if (x < shape.min || x > shape.max) {
      fail(who + " got " + std::to_string(x) + ", outside " + std::to_string(shape.min) + ".." +
           std::to_string(shape.max));
    }
    std::int64_t const origin =
        o.pass == 0 ? m_db.origin_of(o.life, o.generation, o.period) : (shape.increment > 0 ? shape.min : shape.max);
    i128 const step = shape.increment > 0 ? i128(shape.increment) : -i128(shape.increment);
    if ((i128(x) - origin) % step != 0) {
      fail(who + " got " + std::to_string(x) + ", off the step " + std::to_string(shape.increment) + " from " +
           std::to_string(origin));
    }
  }

  FakeDb& m_db;
  Scheduler& m_clock;
  std::map<std::string, std::vector<Change>> m_changes;
  std::map<std::uint64_t, SequenceInfo> m_lives;
  std::set<std::string> m_initial;
  std::map<std::pair<int, std::string>, std::uint64_t> m_known;
  std::map<int, std::uint64_t> m_known_all;
  std::vector<Issue> m_issues;
  std::map<std::tuple<int, std::string, std::int64_t>, std::vector<std::pair<std::size_t, std::size_t>>> m_index;
  // life, generation, period, pass, number
  using Place = std::tuple<std::uint64_t, std::int64_t, std::int32_t, std::uint64_t, std::int64_t>;
  std::set<Place> m_issued;
  std::set<Place> m_served;
  // When the database told a daemon that a sequence ran out in the last second, and in which period.
  std::map<std::pair<int, std::string>, std::vector<std::pair<Clock::time_point, std::int32_t>>> m_ran_out;
  std::vector<Request> m_requests;
  std::vector<AdminAsk> m_admin;
  struct Stop {
    int daemon;
    Clock::time_point from;
    Clock::time_point until;
  };
  std::vector<Stop> m_frozen;
};

// ---------------------------------------------------------------------------------------------
// The world of one seed.

struct Settings {
  bool faults = false;
  int daemons = 1;
  Clock::duration active = 1s;
};

class World;

// How a connection's notice probe ends (Database::ProbeEnd): heard; unsent (its second connection
// refused: probed again later); unheard (as through a transaction pooler, or late: probed again,
// less often, once block mode is used, else not).
enum class Probe : std::uint8_t { heard, unsent, unheard };

// One daemon's database: connections to the fake database, with latency, loss, timeouts and
// cut-offs, behaving as Database does (database.cpp): a statement's handler runs before its
// connection is offered again; a connection that breaks or times out is closed and reopened with
// backoff; each new connection reads the catalog first; every connection listens for notices,
// though in some worlds with faults a connection's notice probe fails (it hears none and block
// mode refuses) until a probe again hears one: probed again when its notice could not be sent,
// and, less often, when it was sent and did not arrive once block mode is used (the daemon's
// mode, or from the first request for a sequence in block mode in a daemon serving strict mode).
class FakeStore final : public daemon::Store {
 public:
  FakeStore(World& world, Freeze& freeze, int id, int connections, Clock::duration timeout,
            Clock::duration admin_timeout, bool block_default)
      : m_world(world),
        m_freeze(freeze),
        m_id(id),
        m_timeout(timeout),
        m_admin_timeout(admin_timeout),
        m_block_used(block_default),
        m_conns(static_cast<std::size_t>(connections)) {}

  void set_events(StoreEvents* events) override { m_events = events; }
  bool can_send() const override {
    return std::ranges::any_of(m_conns, [](Conn const& c) { return c.state == State::idle; });
  }
  void take(std::string const& name, std::uint32_t count, daemon::TakeHandler handler) override;
  void reserve(std::string const& name, std::uint64_t count, daemon::ReserveHandler handler) override;
  void reserve_many(std::vector<daemon::ReserveAsk> const& asks, daemon::ReserveManyHandler handler) override;
  void take_many(std::vector<daemon::TakeAsk> const& asks, daemon::TakeManyHandler handler) override;
  std::size_t take_batch() const override { return 3; }
  // The model learns of a block the database reserved for this daemon: its issue.
  std::uint64_t issue_block(std::string const& name, daemon::Block const& block, Origin const& origin);
  // Small, so that seeds meet statements of several sequences, and their failures, often.
  std::size_t reserve_batch() const override { return 3; }
  void create_many(std::vector<CreateSpec> const& specs, daemon::CreateManyHandler handler) override;
  std::size_t create_batch() const override { return 3; }
  void change(Change const& change, daemon::ChangeHandler handler) override;
  void describe(std::string const& name, daemon::DescribeHandler handler) override;
  Catalog const& catalog() const override { return m_catalog; }
  std::uint64_t refresh_catalog() override;
  std::uint64_t refresh_entry(std::string const& name) override;
  bool catalog_stale() const override { return m_refresh_wanted || m_whole_read_running; }
  // As Database: read whole while a connection was up and heard notices, and that connection has
  // heard them since (it did not break, nor was it found deaf).
  bool catalog_complete() const override {
    if (catalog_stale() || !m_catalog.loaded()) return false;
    return std::ranges::any_of(m_catalog_hearing, [this](auto const& heard) {
      auto const& c = m_conns[heard.first];
      return c.hearing_since == heard.second && hears(c);
    });
  }
  bool up() const override { return std::ranges::any_of(m_conns, conn_up); }
  bool down() const override { return !up() && m_attempt_failed; }
  std::string last_error() const override { return m_last_error; }
  // As Database: block mode refuses while a connection up does not hear notices.
  std::optional<std::string> notices_problem() const override {
    if (std::ranges::any_of(m_conns, [](Conn const& c) { return conn_up(c) && c.hearing_since == 0; }))
      return "change notices do not arrive on the database connections";
    return std::nullopt;
  }
  // As Database: from now on a connection whose notice did not arrive is probed again.
  void block_used() override;

  void start();
  // A connection breaks (the server may or may not have run what it was sent).
  void kill(std::size_t conn);
  // The daemon cannot reach the database for a while: every connection breaks, and connecting fails.
  void cut_off(Clock::duration span);
  // The daemon's process dies: its connections close, what it sent may or may not run at the
  // server, and no answer, failure or notice reaches it again.
  void crash();
  // A notice on the change channel arrives.
  void notice(std::string const& name);
  std::size_t connections() const { return m_conns.size(); }

 private:
  enum class State { down, connecting, idle, busy };
  struct Exchange {
    std::size_t conn = 0;
    std::uint64_t epoch = 0;
    bool executed = false;
    bool cancelled = false;
    bool done = false;
    // The connection breaks after the statement ran and before its commit: what it did is rolled
    // back (roll_back, for takes and reserves), and no answer comes.
    bool rolls_back = false;
    // An admin command's statement: given up after admin_timeout, as Database does.
    bool admin = false;
    std::function<void()> execute;         // at the server
    std::function<void()> roll_back;       // undoes execute's transaction
    std::function<void()> reply;           // the answer arrives
    std::function<void(StoreError)> fail;  // the exchange ends without its answer
  };
  struct Conn {
    State state = State::down;
    std::uint64_t epoch = 0;
    std::shared_ptr<Exchange> current;
    Clock::duration backoff{};
    // A number of the store's, new each time the connection starts hearing notices; 0 while it
    // does not (down, or its notice probe failed: Database::probed); the wait before its next
    // probe (Database::schedule_reprobe), kept when it reconnects, and whether that probe is due.
    std::uint64_t hearing_since = 0;
    Clock::duration reprobe{};
    bool reprobe_due = false;
    bool reprobe_when_block_used = false;  // its notice did not arrive: probed again once block mode is used
  };
  static bool conn_up(Conn const& c) { return c.state == State::idle || c.state == State::busy; }
  static bool hears(Conn const& c) { return conn_up(c) && c.hearing_since != 0; }
  // The connection's notice probe is over (as it was set up, or again): heard, or not, and when it
  // could not send its notice, or (once block mode is used) its notice did not arrive, it is
  // probed again later, as Database does.
  void probed(std::size_t conn, Probe outcome);
  void reprobe_later(std::size_t conn, Probe outcome);
  // The probe again is due after wait, unless the connection breaks or hears notices meanwhile.
  void arm_reprobe(std::size_t conn, Clock::duration wait);
  // The probe again, once the connection is free: it holds the connection, as a statement.
  void reprobe(std::size_t conn);
  // Notices may have been missed: no connection heard them all since the last whole read.
  bool missed_notices() const { return !catalog_complete() && !(m_whole_read_running && !m_hearing_at_read.empty()); }

  // What a take or reserve exchange did at the server, which a rollback undoes: the state of the
  // database before it, and the model's issues of what it took.
  struct Undoable {
    FakeDb::Snapshot before;
    std::vector<std::uint64_t> issues;
  };
  // Rolls the database back to out->before and withdraws out->issues.
  std::function<void()> undo(std::shared_ptr<Undoable> const& out);
  // A statement of several sequences (pez.reserve_many, pez.take_many): run_one runs one ask at
  // the server (logging it, issuing what it took into issues) or answers the sequence's refusal;
  // burn_unused: what no request used is burned once the answer is handed on (takes). False if
  // no connection was free to send it on.
  template <typename Item, typename Ask, typename Handler, typename RunOne>
  bool run_many(std::vector<Ask> const& asks, Handler handler, bool burn_unused, RunOne run_one);

  std::size_t lease();
  void send(std::size_t conn, std::shared_ptr<Exchange> ex);
  void release(std::size_t conn, std::uint64_t epoch);
  void became_free(std::size_t conn);
  void break_conn(std::size_t conn, std::string const& why);
  void connect(std::size_t conn);
  void connect_failed(std::size_t conn);
  void reconnect_later(std::size_t conn);
  void read_catalog(std::size_t conn);
  bool cut() const;
  // fn after delay in the daemon's process (an answer it reads, a timer of its own): later while
  // the process is stopped.
  void in_daemon_after(Clock::duration delay, std::function<void()> fn);

  World& m_world;
  Freeze& m_freeze;
  int m_id;
  Clock::duration m_timeout;
  Clock::duration m_admin_timeout;
  bool m_block_used;  // the daemon serves block mode by default, or block_used was called (as Database)
  std::vector<Conn> m_conns;
  StoreEvents* m_events = nullptr;
  Catalog m_catalog;
  std::uint64_t m_reads_started = 0;
  bool m_refresh_wanted = false;
  std::set<std::string> m_entries_wanted;  // none while a whole read is wanted
  int m_reads_running = 0;
  bool m_whole_read_running = false;
  std::uint64_t start_read();
  // The connections up (and their epochs) when the latest whole read started, and when the one
  // the catalog holds did.
  std::vector<std::pair<std::size_t, std::uint64_t>> m_hearing_at_read;
  std::vector<std::pair<std::size_t, std::uint64_t>> m_catalog_hearing;
  std::uint64_t m_hearing_serial = 0;
  bool m_attempt_failed = false;
  std::string m_last_error = "not connected yet";
  Clock::time_point m_cut_until{};
  bool m_dead = false;
};

// A daemon's clocks: the world's, but for its wall clock, which may be stepped apart.
class DaemonClock final : public daemon::CoreClock {
 public:
  DaemonClock(Scheduler& world, Freeze& freeze) : m_world(world), m_freeze(freeze) {}
  Clock::time_point now() const override { return m_world.now(); }
  daemon::WallClock::time_point wall_now() const override { return m_world.wall_now() + m_step; }
  std::unique_ptr<daemon::CoreTimer> timer() override { return std::make_unique<SimTimer>(m_world, &m_freeze); }
  void step_wall(Clock::duration by) { m_step += std::chrono::duration_cast<daemon::WallClock::duration>(by); }

 private:
  Scheduler& m_world;
  Freeze& m_freeze;
  daemon::WallClock::duration m_step{};
};

struct SimDaemon {
  SimDaemon(World& world, int id, int connections, daemon::AllocatorOptions options, int workers_percent);
  int id;
  int connections;
  bool dead = false;  // its process was killed (World::restart); another took its place
  daemon::AllocatorOptions options;
  int workers_percent;  // of requests that arrive on a thread other than the core's
  daemon::Metrics metrics;
  Freeze freeze;  // its process, stopped for a while now and then
  FakeStore store;
  DaemonClock clock;
  daemon::Core core;
};

class World {
 public:
  World(std::uint64_t seed, std::ostream* trace);
  SeedResult run();

  Scheduler clock;
  Rng rng;
  // Whether and when daemons restart, and their wall clocks are stepped: drawn apart, so that a
  // world without either is the one the seed made before they were simulated.
  Rng later_faults;
  // How a connection's notice probe ends (in some worlds with faults it fails), drawn apart too.
  Rng probes;
  unsigned deaf_percent = 0;
  // The wait before the first probe again: 1 s in pezd, shorter in most worlds so that a daemon
  // hears notices again while requests still arrive.
  Clock::duration reprobe_first = 1s;
  // The same after a notice sent that did not arrive (once block mode is used):
  // 10 s in pezd, shorter in most worlds; the most is ten times the other's.
  Clock::duration reprobe_unheard_first = 10s;
  Probe probe() {
    if (deaf_percent == 0 || !probes.percent(deaf_percent)) return Probe::heard;
    return probes.percent(70) ? Probe::unsent : Probe::unheard;
  }
  FakeDb db;
  SeedResult outcome;
  Model model{db, clock};
  Settings settings;
  std::vector<std::unique_ptr<SimDaemon>> daemons;
  std::ostream* trace;

  template <typename... Args>
  void log(Args const&... args) {
    if (trace == nullptr) return;
    *trace << "[" << model.elapsed_us() << "us]";
    ((*trace << ' ' << args), ...);
    *trace << '\n';
  }
  // The daemons alive, and one of them picked at random.
  std::vector<SimDaemon*> live_daemons() const;
  SimDaemon& live_daemon();
  Clock::duration latency() {
    if (settings.faults && rng.percent(2)) return rng.micros(20'000, 1'500'000);
    return rng.micros(100, settings.faults ? 6000 : 3000);
  }

 private:
  void changed(std::string const& name);
  void setup();
  void schedule_requests();
  void schedule_admin();
  void schedule_faults();
  void schedule_clock();
  void request();
  // The request reaches daemon d.
  void arrive(SimDaemon& d, std::string const& name, std::uint32_t count);
  void admin();
  // A daemon's process is killed and a new one starts in its place (its settings the same, or
  // its mode changed), as systemd restarts pezd.
  void restart();
  // An admin create of a random shape through daemon d.
  void create_through(SimDaemon& d, std::string const& name);
  // An admin command through daemon d, which the model holds to its time; judge sees the answer
  // unless d died first (then it reaches nobody).
  void run_admin(SimDaemon& d, daemon::AdminCommand command, std::string const& what,
                 std::function<void(daemon::AdminResult const&)> judge = {});
  std::string pick_name(bool for_request);
  CreateSpec random_shape(std::string const& name, bool& valid);
  bool done() const;

  std::vector<std::string> m_pool{"alpha", "beta", "c-d", "e_f", "g1", "h"};
};

// --- FakeStore ---

void FakeStore::start() {
  for (std::size_t i = 0; i < m_conns.size(); ++i) connect(i);
}

bool FakeStore::cut() const { return m_world.clock.now() < m_cut_until; }

void FakeStore::in_daemon_after(Clock::duration delay, std::function<void()> fn) {
  m_world.clock.after(delay, [this, fn = std::move(fn)]() mutable { m_freeze.run(std::move(fn)); });
}

std::size_t FakeStore::lease() {
  for (std::size_t i = 0; i < m_conns.size(); ++i) {
    if (m_conns[i].state == State::idle) return i;
  }
  m_world.model.fail("the core sent a statement with no free connection (can_send() was false)");
  return m_conns.size();
}

void FakeStore::send(std::size_t conn, std::shared_ptr<Exchange> ex) {
  Conn& c = m_conns[conn];
  c.state = State::busy;
  ex->conn = conn;
  ex->epoch = c.epoch;
  c.current = ex;
  auto const a = m_world.latency();
  auto const b = m_world.latency();
  ex->rolls_back = ex->roll_back && m_world.settings.faults && m_world.rng.percent(2);
  m_world.clock.after(a, [this, ex] {
    if (ex->cancelled) return;
    ex->executed = true;
    ex->execute();
    if (ex->rolls_back) {
      m_world.log("daemon", m_id, "connection", ex->conn, ": the statement ran and rolls back");
      ex->roll_back();
    }
  });
  in_daemon_after(a + b, [this, ex] {
    if (ex->done) return;
    if (ex->rolls_back) {
      break_conn(ex->conn, "broke before the commit");
      return;
    }
    ex->done = true;
    m_conns[ex->conn].current.reset();
    ex->reply();
    release(ex->conn, ex->epoch);
  });
  auto const limit = ex->admin ? m_admin_timeout : m_timeout;
  if (a + b > limit) {
    in_daemon_after(limit, [this, ex] {
      if (ex->done) return;
      ex->done = true;
      m_world.log("daemon", m_id, "connection", ex->conn, "timed out");
      break_conn(ex->conn, "timeout");
      ex->fail(StoreError{StoreError::Kind::timeout, "the database did not answer in time"});
    });
  }
}

void FakeStore::release(std::size_t conn, std::uint64_t epoch) {
  Conn& c = m_conns[conn];
  if (c.epoch != epoch || c.state != State::busy) return;
  c.state = State::idle;
  became_free(conn);
}

void FakeStore::became_free(std::size_t conn) {
  if (m_conns[conn].state != State::idle) return;
  if ((m_refresh_wanted || !m_entries_wanted.empty()) && m_reads_running == 0) {
    read_catalog(conn);
    return;
  }
  if (m_conns[conn].reprobe_due) {
    reprobe(conn);
    return;
  }
  if (m_events) m_events->store_available();
}

void FakeStore::break_conn(std::size_t conn, std::string const& why) {
  Conn& c = m_conns[conn];
  if (c.state == State::down) return;
  ++c.epoch;
  c.state = State::down;
  c.hearing_since = 0;
  c.reprobe_due = false;
  c.reprobe_when_block_used = false;
  c.backoff = Clock::duration::zero();
  auto ex = std::move(c.current);
  c.current.reset();
  if (ex && !ex->done) {
    ex->done = true;
    // The server may have got the statement and run it; its answer is lost either way.
    if (!ex->executed && m_world.rng.percent(50)) ex->cancelled = true;
    ex->fail(StoreError{StoreError::Kind::lost, "the connection broke (" + why + ")"});
  }
  reconnect_later(conn);
}

void FakeStore::probed(std::size_t conn, Probe outcome) {
  Conn& c = m_conns[conn];
  if (outcome == Probe::heard) {
    c.hearing_since = ++m_hearing_serial;
    c.reprobe = Clock::duration::zero();
    return;
  }
  ++m_world.outcome.faults;
  c.hearing_since = 0;
  bool const unsent = outcome == Probe::unsent;
  bool const again = unsent || m_block_used;  // as Database::probed
  c.reprobe_when_block_used = !unsent && !again;
  m_world.log("daemon", m_id, "connection", conn, "hears no notices (its probe",
              unsent ? "could not send one)" : "failed)", again ? "and is probed again later" : "");
  if (again) reprobe_later(conn, outcome);
}

void FakeStore::reprobe_later(std::size_t conn, Probe outcome) {
  Conn& c = m_conns[conn];
  // Database::schedule_reprobe: after a notice that did not arrive, a longer first wait, and up
  // to ten times the most.
  bool const unheard = outcome == Probe::unheard;
  Clock::duration const first = unheard ? m_world.reprobe_unheard_first : m_world.reprobe_first;
  Clock::duration const most = unheard ? 600s : 60s;
  c.reprobe = c.reprobe == Clock::duration::zero() ? first : std::clamp<Clock::duration>(c.reprobe * 2, first, most);
  arm_reprobe(conn, c.reprobe);
}

void FakeStore::block_used() {
  if (m_block_used) return;
  m_block_used = true;
  for (std::size_t i = 0; i < m_conns.size(); ++i) {
    Conn& c = m_conns[i];
    if (!c.reprobe_when_block_used || !conn_up(c)) continue;
    m_world.log("daemon", m_id, "connection", i, "is probed again: block mode is used");
    arm_reprobe(i, Clock::duration::zero());
  }
}

void FakeStore::arm_reprobe(std::size_t conn, Clock::duration wait) {
  Conn& c = m_conns[conn];
  c.reprobe_when_block_used = false;
  auto const epoch = c.epoch;
  in_daemon_after(wait, [this, conn, epoch] {
    Conn& k = m_conns[conn];
    if (k.epoch != epoch || !conn_up(k) || k.hearing_since != 0) return;
    k.reprobe_due = true;
    became_free(conn);
  });
}

void FakeStore::reprobe(std::size_t conn) {
  m_conns[conn].reprobe_due = false;
  auto ex = std::make_shared<Exchange>();
  ex->execute = [] {};
  ex->reply = [this, conn] {
    probed(conn, m_world.probe());
    if (m_conns[conn].hearing_since == 0) return;
    m_world.log("daemon", m_id, "connection", conn, "hears notices now");
    if (missed_notices()) m_refresh_wanted = true;
  };
  ex->fail = [](StoreError const&) {};  // the connection broke: it is opened and probed again
  send(conn, ex);
}

void FakeStore::kill(std::size_t conn) {
  if (conn >= m_conns.size() || m_conns[conn].state == State::down || m_conns[conn].state == State::connecting) return;
  m_world.log("daemon", m_id, "connection", conn, "breaks");
  break_conn(conn, "killed");
}

void FakeStore::cut_off(Clock::duration span) {
  m_world.log("daemon", m_id, "cut off for", std::chrono::duration_cast<std::chrono::milliseconds>(span).count(), "ms");
  m_cut_until = m_world.clock.now() + span;
  for (std::size_t i = 0; i < m_conns.size(); ++i) break_conn(i, "cut off");
}

void FakeStore::crash() {
  m_world.log("daemon", m_id, "dies");
  m_dead = true;
  for (auto& c : m_conns) {
    ++c.epoch;
    c.state = State::down;
    auto ex = std::move(c.current);
    c.current.reset();
    if (ex && !ex->done) {
      ex->done = true;
      if (!ex->executed && m_world.rng.percent(50)) ex->cancelled = true;
    }
  }
}

void FakeStore::reconnect_later(std::size_t conn) {
  if (m_dead) return;
  Conn& c = m_conns[conn];
  auto const delay = c.backoff;
  c.backoff =
      c.backoff == Clock::duration::zero() ? Clock::duration(100ms) : std::min<Clock::duration>(c.backoff * 2, 1s);
  auto const epoch = c.epoch;
  in_daemon_after(delay, [this, conn, epoch] {
    if (m_conns[conn].epoch != epoch || m_conns[conn].state != State::down) return;
    connect(conn);
  });
}

void FakeStore::connect(std::size_t conn) {
  Conn& c = m_conns[conn];
  c.state = State::connecting;
  auto const epoch = c.epoch;
  in_daemon_after(m_world.latency(), [this, conn, epoch] {
    Conn& k = m_conns[conn];
    if (k.epoch != epoch || k.state != State::connecting) return;
    if (cut()) {
      connect_failed(conn);
      return;
    }
    probed(conn, m_world.probe());
    // Set up: a new connection reads the catalog whole (unless a read runs already; then one
    // follows), as Database does: unless another connection has heard notices since the catalog
    // was read whole, or heard them when the whole read that runs began.
    if (missed_notices()) m_refresh_wanted = true;
    if (m_reads_running == 0 && (m_refresh_wanted || !m_entries_wanted.empty())) {
      k.state = State::busy;
      read_catalog(conn);
      return;
    }
    k.state = State::idle;
    k.backoff = Clock::duration::zero();
    m_attempt_failed = false;
    m_last_error.clear();
    became_free(conn);
  });
}

void FakeStore::connect_failed(std::size_t conn) {
  Conn& c = m_conns[conn];
  c.state = State::down;
  ++c.epoch;
  m_attempt_failed = true;
  if (!up()) {
    m_last_error = "could not connect to the database";
    if (m_events) m_events->store_down(m_last_error);
  }
  reconnect_later(conn);
}

void FakeStore::read_catalog(std::size_t conn) {
  // A whole read, or one of the names wanted (as Database does: sql k_entries_sql).
  bool const whole = m_refresh_wanted;
  auto names = std::make_shared<std::vector<std::string>>();
  if (!whole) names->assign(m_entries_wanted.begin(), m_entries_wanted.end());
  m_entries_wanted.clear();
  m_refresh_wanted = false;
  ++m_reads_running;
  m_whole_read_running = whole;
  auto const read = ++m_reads_started;
  m_world.log("daemon", m_id, "starts catalog read", read, whole ? "(whole)" : "(some names)", "on connection", conn);
  auto ex = std::make_shared<Exchange>();
  auto snapshot = std::make_shared<std::pair<std::vector<SequenceInfo>, std::uint64_t>>();
  ex->execute = [this, snapshot, whole, names] {
    snapshot->first = m_world.db.catalog();
    if (!whole) {
      std::erase_if(snapshot->first,
                    [&](SequenceInfo const& info) { return std::ranges::find(*names, info.name) == names->end(); });
    }
    snapshot->second = m_world.db.ops();
  };
  ex->reply = [this, snapshot, read, conn, whole, names] {
    --m_reads_running;
    m_whole_read_running = false;
    m_attempt_failed = false;
    m_conns[conn].backoff = Clock::duration::zero();
    m_last_error.clear();
    if (read <= m_catalog.read_number()) m_world.model.fail("catalog reads ended out of order");
    if (whole) {
      m_catalog_hearing = m_hearing_at_read;
      m_catalog.replace(snapshot->first, m_world.clock.now(), read);
      m_world.model.knows_all(m_id, snapshot->second);
    } else {
      m_catalog.update(*names, snapshot->first, read);
      for (auto const& name : *names) m_world.model.knows(m_id, name, snapshot->second);
    }
    m_world.log("daemon", m_id, "read the catalog (read", read, ")");
    if (m_events) m_events->store_catalog();
  };
  ex->fail = [this, read, whole, names](StoreError const&) {
    --m_reads_running;
    m_whole_read_running = false;
    if (whole) {
      m_refresh_wanted = true;
    } else if (!m_refresh_wanted) {
      m_entries_wanted.insert(names->begin(), names->end());
    }
    m_world.log("daemon", m_id, "catalog read", read, "failed");
  };
  m_conns[conn].state = State::idle;  // send() marks it busy
  if (whole) {
    m_hearing_at_read.clear();
    for (std::size_t i = 0; i < m_conns.size(); ++i) {
      if (hears(m_conns[i])) m_hearing_at_read.emplace_back(i, m_conns[i].hearing_since);
    }
  }
  send(conn, ex);
}

std::uint64_t FakeStore::refresh_catalog() {
  m_refresh_wanted = true;
  m_entries_wanted.clear();
  return start_read();
}

std::uint64_t FakeStore::refresh_entry(std::string const& name) {
  if (!m_refresh_wanted) m_entries_wanted.insert(name);
  return start_read();
}

std::uint64_t FakeStore::start_read() {
  auto const next = m_reads_started + 1;
  if (m_reads_running > 0) return next;
  for (std::size_t i = 0; i < m_conns.size(); ++i) {
    if (m_conns[i].state == State::idle) {
      read_catalog(i);
      break;
    }
  }
  return next;
}

void FakeStore::notice(std::string const& name) {
  if (std::ranges::none_of(m_conns, hears)) return;  // nobody listens
  m_world.log("daemon", m_id, "hears a notice for", name);
  m_world.model.knows(m_id, name, m_world.db.ops());
  if (m_events) m_events->store_notice(name);
}

std::function<void()> FakeStore::undo(std::shared_ptr<Undoable> const& out) {
  return [this, out] {
    m_world.db.roll_back(out->before);
    for (auto issue : out->issues) m_world.model.withdraw(issue);
  };
}

void FakeStore::take(std::string const& name, std::uint32_t count, daemon::TakeHandler handler) {
  auto const conn = lease();
  if (conn == m_conns.size()) return;
  auto ex = std::make_shared<Exchange>();
  auto h = std::make_shared<daemon::TakeHandler>(std::move(handler));
  struct Outcome : Undoable {
    std::optional<TakeResult> result;
    std::int32_t period = 0;  // the database's when it said the sequence ran out
  };
  auto out = std::make_shared<Outcome>();
  ex->roll_back = undo(out);
  ex->execute = [this, out, name, count] {
    out->before = m_world.db.snapshot();
    std::vector<Origin> origins;
    auto r = m_world.db.take_dated(name, count, &origins);
    if (r) {
      out->issues.push_back(m_world.model.issue(m_id, name, false, r->numbers, origins, std::nullopt));
      m_world.log("database: daemon", m_id, "takes", r->numbers.size(), "of", name, "from", r->numbers.front(), "to",
                  r->numbers.back(), "period", r->period, "(issue", out->issues.back(), "op", m_world.db.ops(), ")");
    } else {
      out->period = m_world.db.period_now(name);
      m_world.log("database: daemon", m_id, "cannot take", count, "of", name, ":", r.error().message);
    }
    out->result = r ? TakeResult(std::move(*r)) : TakeResult(std::unexpected(r.error()));
  };
  ex->reply = [this, out, h, name] {
    for (auto issue : out->issues) m_world.model.delivered(issue);
    if (!*out->result && out->result->error().kind == StoreError::Kind::exhausted) {
      m_world.model.ran_out(m_id, name, out->period);
    }
    (*h)(std::move(*out->result));
    for (auto issue : out->issues) m_world.model.closed(issue);  // what no request used is burned
  };
  ex->fail = [h](StoreError e) { (*h)(std::unexpected(std::move(e))); };
  send(conn, ex);
}

void FakeStore::take_many(std::vector<daemon::TakeAsk> const& asks, daemon::TakeManyHandler handler) {
  // As pez.take_many (sql/013) runs pez.take_dated for each in turn; what no request used is
  // burned once the answer is handed on.
  bool const sent = run_many<daemon::Taken>(
      asks, std::move(handler), true,
      [this](daemon::TakeAsk const& ask, std::size_t of, std::vector<std::uint64_t>& issues) -> TakeResult {
        std::vector<Origin> origins;
        auto r = m_world.db.take_dated(ask.name, ask.count, &origins);
        if (!r) {
          m_world.log("database: daemon", m_id, "cannot take", ask.count, "of", ask.name, "in a statement of", of, ":",
                      r.error().message);
          return std::unexpected(r.error());
        }
        issues.push_back(m_world.model.issue(m_id, ask.name, false, r->numbers, origins, std::nullopt));
        m_world.log("database: daemon", m_id, "takes", r->numbers.size(), "of", ask.name, "from", r->numbers.front(),
                    "to", r->numbers.back(), "period", r->period, "in a statement of", of, "(issue", issues.back(),
                    ")");
        return std::move(*r);
      });
  if (sent) m_world.outcome.takes_together += asks.size();
}

std::uint64_t FakeStore::issue_block(std::string const& name, daemon::Block const& block, Origin const& origin) {
  std::vector<std::int64_t> values;
  for (i128 v = block.first;; v += block.step) {
    values.push_back(static_cast<std::int64_t>(v));
    if (v == block.last) break;
  }
  // Its numbers are handed out only before its period ends, as the database's clock ran now.
  std::optional<Clock::time_point> ends;
  if (block.valid_for) ends = m_world.clock.now() + *block.valid_for;
  return m_world.model.issue(m_id, name, true, values, std::vector<Origin>(values.size(), origin), ends);
}

void FakeStore::reserve(std::string const& name, std::uint64_t count, daemon::ReserveHandler handler) {
  auto const conn = lease();
  if (conn == m_conns.size()) return;
  auto ex = std::make_shared<Exchange>();
  auto h = std::make_shared<daemon::ReserveHandler>(std::move(handler));
  struct Outcome : Undoable {
    std::optional<ReserveResult> result;
    std::int32_t period = 0;  // the database's when it said the sequence ran out
  };
  auto out = std::make_shared<Outcome>();
  ex->roll_back = undo(out);
  ex->execute = [this, out, name, count] {
    out->before = m_world.db.snapshot();
    Origin origin;
    auto r = m_world.db.reserve(name, static_cast<std::int64_t>(count), &origin);
    if (r) {
      out->issues.push_back(issue_block(name, *r, origin));
      m_world.log("database: daemon", m_id, "reserves", name, "from", r->first, "to", r->last, "step", r->step,
                  "generation", r->generation, "pass", origin.pass, "period", r->period, "valid for",
                  r->valid_for ? std::chrono::duration_cast<std::chrono::microseconds>(*r->valid_for).count() : -1,
                  "us (issue", out->issues.back(), "op", m_world.db.ops(), ")");
    } else {
      out->period = m_world.db.period_now(name);
      m_world.log("database: daemon", m_id, "cannot reserve", count, "of", name, ":", r.error().message);
    }
    out->result = r ? ReserveResult(*r) : ReserveResult(std::unexpected(r.error()));
  };
  ex->reply = [this, out, h, name] {
    for (auto issue : out->issues) {
      m_world.model.delivered(issue);
      m_world.log("daemon", m_id, "receives issue", issue);
    }
    if (!*out->result && out->result->error().kind == StoreError::Kind::exhausted) {
      m_world.model.ran_out(m_id, name, out->period);
    }
    (*h)(std::move(*out->result));
  };
  ex->fail = [h](StoreError e) { (*h)(std::unexpected(std::move(e))); };
  send(conn, ex);
}

template <typename Item, typename Ask, typename Handler, typename RunOne>
bool FakeStore::run_many(std::vector<Ask> const& asks, Handler handler, bool burn_unused, RunOne run_one) {
  auto const conn = lease();
  if (conn == m_conns.size()) return false;
  auto ex = std::make_shared<Exchange>();
  auto h = std::make_shared<Handler>(std::move(handler));
  struct Outcome : Undoable {
    std::vector<std::expected<Item, StoreError>> results;
    std::vector<std::pair<std::string, std::int32_t>> ran_out;  // the database's period when it said so
  };
  auto out = std::make_shared<Outcome>();
  ex->roll_back = undo(out);
  // Each ask in a subtransaction of its own: one the sequence refuses takes nothing, and the
  // others keep what they took.
  ex->execute = [this, out, asks, run_one] {
    out->before = m_world.db.snapshot();
    out->results.reserve(asks.size());
    for (auto const& ask : asks) {
      auto r = run_one(ask, asks.size(), out->issues);
      if (!r && r.error().kind == StoreError::Kind::exhausted) {
        out->ran_out.emplace_back(ask.name, m_world.db.period_now(ask.name));
      }
      out->results.push_back(std::move(r));
    }
  };
  ex->reply = [this, out, h, burn_unused] {
    for (auto issue : out->issues) {
      m_world.model.delivered(issue);
      m_world.log("daemon", m_id, "receives issue", issue);
    }
    for (auto const& [name, period] : out->ran_out) m_world.model.ran_out(m_id, name, period);
    (*h)(std::move(out->results));
    if (burn_unused) {
      for (auto issue : out->issues) m_world.model.closed(issue);
    }
  };
  ex->fail = [h](StoreError e) { (*h)(std::unexpected(std::move(e))); };
  send(conn, ex);
  return true;
}

void FakeStore::reserve_many(std::vector<daemon::ReserveAsk> const& asks, daemon::ReserveManyHandler handler) {
  // As pez.reserve_many (sql/012) runs pez.reserve_dated for each in turn.
  run_many<daemon::Block>(
      asks, std::move(handler), false,
      [this](daemon::ReserveAsk const& ask, std::size_t of, std::vector<std::uint64_t>& issues) -> ReserveResult {
        Origin origin;
        auto r = m_world.db.reserve(ask.name, static_cast<std::int64_t>(ask.count), &origin);
        if (!r) {
          m_world.log("database: daemon", m_id, "cannot reserve", ask.count, "of", ask.name, "in a statement of", of,
                      ":", r.error().message);
          return std::unexpected(r.error());
        }
        issues.push_back(issue_block(ask.name, *r, origin));
        m_world.log("database: daemon", m_id, "reserves", ask.name, "from", r->first, "to", r->last, "step", r->step,
                    "generation", r->generation, "period", r->period, "in a statement of", of, "(issue", issues.back(),
                    ")");
        return *r;
      });
}

void FakeStore::change(Change const& change, daemon::ChangeHandler handler) {
  auto const conn = lease();
  if (conn == m_conns.size()) return;
  auto ex = std::make_shared<Exchange>();
  ex->admin = true;
  auto h = std::make_shared<daemon::ChangeHandler>(std::move(handler));
  struct Outcome {
    std::optional<ChangeResult> result;
    std::uint64_t op = 0;
  };
  auto out = std::make_shared<Outcome>();
  ex->execute = [this, out, change] {
    if (change.op == Change::Op::create) {
      auto r = m_world.db.create(change.spec);
      out->result = r ? ChangeResult(*r) : ChangeResult(std::unexpected(r.error()));
    } else if (change.op == Change::Op::reset) {
      auto r = m_world.db.reset(change.name, change.to);
      out->result = r ? ChangeResult(*r) : ChangeResult(std::unexpected(r.error()));
    } else {
      auto r = m_world.db.drop(change.name);
      out->result = r ? ChangeResult(0) : ChangeResult(std::unexpected(r.error()));
    }
    out->op = m_world.db.ops();
  };
  ex->reply = [this, out, h, name = change.name] {
    if (*out->result) m_world.model.knows(m_id, name, out->op);
    (*h)(std::move(*out->result));
  };
  ex->fail = [h](StoreError e) { (*h)(std::unexpected(std::move(e))); };
  send(conn, ex);
}

void FakeStore::create_many(std::vector<CreateSpec> const& specs, daemon::CreateManyHandler handler) {
  auto const conn = lease();
  if (conn == m_conns.size()) return;
  auto ex = std::make_shared<Exchange>();
  ex->admin = true;
  auto h = std::make_shared<daemon::CreateManyHandler>(std::move(handler));
  struct Outcome {
    std::vector<ChangeResult> results;
    std::uint64_t op = 0;
  };
  auto out = std::make_shared<Outcome>();
  // As k_create_many_sql runs pez.create_sequences: each create in turn, apart, one commit.
  ex->execute = [this, out, specs] {
    m_world.outcome.together += specs.size();
    for (auto& r : m_world.db.create_many(specs)) {
      out->results.push_back(r ? ChangeResult(*r) : ChangeResult(std::unexpected(r.error())));
    }
    out->op = m_world.db.ops();
  };
  ex->reply = [this, out, h, specs] {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (out->results[i]) m_world.model.knows(m_id, specs[i].name, out->op);
    }
    (*h)(std::move(out->results));
  };
  ex->fail = [h](StoreError e) { (*h)(std::unexpected(std::move(e))); };
  send(conn, ex);
}

void FakeStore::describe(std::string const& name, daemon::DescribeHandler handler) {
  auto const conn = lease();
  if (conn == m_conns.size()) return;
  auto ex = std::make_shared<Exchange>();
  ex->admin = true;
  auto h = std::make_shared<daemon::DescribeHandler>(std::move(handler));
  auto rows = std::make_shared<std::vector<SequenceRow>>();
  ex->execute = [this, rows, name] { *rows = m_world.db.describe(name); };
  ex->reply = [h, rows] { (*h)(std::move(*rows)); };
  ex->fail = [h](StoreError e) { (*h)(std::unexpected(std::move(e))); };
  send(conn, ex);
}

// --- SimDaemon and World ---

SimDaemon::SimDaemon(World& world, int i, int conns, daemon::AllocatorOptions o, int workers)
    : id(i),
      connections(conns),
      options(o),
      workers_percent(workers),
      freeze(world.clock),
      store(world, freeze, i, conns, o.timeout, o.admin_timeout, o.mode == daemon::Mode::block),
      clock(world.clock, freeze),
      core(clock, store, metrics, o) {}

World::World(std::uint64_t seed, std::ostream* out)
    : rng(seed), later_faults(~seed), probes(seed ^ 0x9e3779b97f4a7c15ULL), trace(out) {
  model.stats = &outcome;
  db.on_change = [this](std::string const& name) { changed(name); };
}

void World::changed(std::string const& name) {
  model.changed(name);
  ++outcome.changes;
  log("the database committed a change of", name, "(op", db.ops(), ")");
  // The notice goes to every daemon listening now: late, and in a world with faults sometimes
  // twice or never.
  for (auto& d : daemons) {
    int copies = 1;
    if (settings.faults) copies = rng.percent(10) ? 0 : rng.percent(10) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      clock.after(rng.micros(50, settings.faults ? 40'000 : 5'000),
                  [&d = *d, name] { d.freeze.run([&d, name] { d.store.notice(name); }); });
    }
  }
}

CreateSpec World::random_shape(std::string const& name, bool& valid) {
  CreateSpec spec;
  spec.name = name;
  switch (rng.below(5)) {
    case 0:  // a small range
    case 1:
      spec.min = rng.between(1, 20);
      spec.max = spec.min + rng.between(1, 40);
      spec.increment = rng.percent(50) ? 1 : rng.between(1, spec.max - spec.min);
      break;
    case 2: {  // the whole range with a huge step
      spec.min = 1;
      spec.max = k_sequence_max;
      std::int64_t const steps[] = {std::int64_t(1) << 62, k_sequence_max - 1, k_sequence_max / 3,
                                    (std::int64_t(1) << 61) + 7, k_sequence_max / 2};
      spec.increment = steps[rng.below(5)];
      break;
    }
    case 3:  // near the top of int64
      spec.max = k_sequence_max;
      spec.min = k_sequence_max - rng.between(5, 1000);
      spec.increment = rng.between(1, 7);
      break;
    default:  // a larger range
      spec.min = rng.between(1, 1000);
      spec.max = spec.min + rng.between(1000, 1'000'000'000'000);
      spec.increment = rng.between(1, 1000);
  }
  if (rng.percent(8)) {  // a step of the range's size or more: must be refused
    spec.increment =
        static_cast<std::int64_t>(std::min<i128>(i128(spec.max) - spec.min + rng.between(1, 1000), k_sequence_max));
  }
  valid = i128(spec.increment) <= i128(spec.max) - spec.min;
  if (rng.percent(50)) spec.increment = -spec.increment;
  std::int64_t const step = spec.increment > 0 ? spec.increment : -spec.increment;
  auto const steps_in_range = static_cast<std::int64_t>((i128(spec.max) - spec.min) / step);
  if (rng.percent(50)) {
    spec.start = spec.increment > 0 ? spec.min : spec.max;
  } else {
    auto const k = rng.between(0, std::max<std::int64_t>(steps_in_range, 0));
    spec.start = spec.increment > 0 ? static_cast<std::int64_t>(spec.min + i128(k) * step)
                                    : static_cast<std::int64_t>(spec.max - i128(k) * step);
  }
  spec.cycle = rng.percent(50);
  if (rng.percent(30)) {  // periodic: it starts again each period of the database's clock
    static char const* const k_periods[] = {"yearly", "monthly", "daily"};
    static char const* const k_formats[] = {"Y{YYYY}-{n}", "M{YYYY}{MM}-{n}", "D{YYYY}{MM}{DD}-{n}"};
    static char const* const k_zones[] = {"UTC", "Etc/GMT-14", "Etc/GMT+5", "Etc/GMT-3"};
    auto const kind = rng.below(3);
    spec.period = k_periods[kind];
    spec.format = k_formats[kind];
    if (rng.percent(60)) spec.time_zone = k_zones[rng.below(4)];
  }
  switch (rng.below(4)) {
    case 0:
      spec.mode = "strict";
      break;
    case 1:
      spec.mode = "block";
      break;
    default:
      break;
  }
  return spec;
}

std::string World::pick_name(bool for_request) {
  auto const r = rng.below(100);
  if (r < 15) return rng.percent(50) ? "forward" : "reverse";
  if (for_request && r < 18) return "nothing-here";
  return m_pool[rng.below(m_pool.size())];
}

void World::setup() {
  model.exists_from_start("forward");
  model.exists_from_start("reverse");
  settings.faults = rng.percent(75);
  settings.daemons = static_cast<int>(rng.between(1, 3));
  settings.active = rng.micros(300'000, 1'200'000);
  model.faults = settings.faults;
  // The database's clock: the simulation's, from a random moment, and periods of tens or hundreds
  // of milliseconds, so that many begin and end in a run.
  db.set_clock([this] { return clock.now(); });
  db.move_clock(rng.micros(0, 2'000'000));
  db.set_period_lengths(std::array<Clock::duration, 3>{rng.micros(300'000, 500'000), rng.micros(150'000, 300'000),
                                                       rng.micros(50'000, 150'000)});
  // Some sequences exist from the start, one perhaps made by hand (no row in pez.sequences).
  for (auto const& name : m_pool) {
    if (!rng.percent(60)) continue;
    bool valid = false;
    auto spec = random_shape(name, valid);
    if (!valid) continue;
    if (rng.percent(15)) {
      db.create_by_hand(name, spec.increment, spec.min, spec.max, spec.start, spec.cycle);
      model.exists_from_start(name);
    } else {
      db.create(spec);
    }
  }
  for (int i = 0; i < settings.daemons; ++i) {
    daemon::AllocatorOptions o;
    o.timeout = settings.faults ? std::chrono::milliseconds(rng.between(300, 1000)) : std::chrono::milliseconds(5000);
    o.mode = rng.percent(50) ? daemon::Mode::block : daemon::Mode::strict;
    o.block.min = static_cast<std::uint64_t>(rng.between(1, 20));
    o.block.max = o.block.min + static_cast<std::uint64_t>(rng.between(0, 300));
    o.block.duration = std::chrono::milliseconds(rng.between(20, 2000));
    o.wrap_warning = 0.9;
    // Shorter or longer than request_timeout; drawn apart, as the restarts are.
    o.admin_timeout =
        settings.faults ? std::chrono::milliseconds(later_faults.between(200, 3000)) : std::chrono::milliseconds(10000);
    o.strict_batch = static_cast<std::uint32_t>(rng.between(2, 40));
    auto const connections = static_cast<int>(rng.between(1, 3));
    daemons.push_back(std::make_unique<SimDaemon>(*this, i, connections, o, static_cast<int>(rng.between(0, 60))));
    log("daemon", i, o.mode == daemon::Mode::block ? "block" : "strict", "connections", connections, "timeout",
        o.timeout.count(), "ms");
  }
  for (auto& d : daemons) d->store.start();
}

std::vector<SimDaemon*> World::live_daemons() const {
  std::vector<SimDaemon*> live;
  for (auto const& d : daemons) {
    if (!d->dead) live.push_back(d.get());
  }
  return live;
}

SimDaemon& World::live_daemon() {
  auto const live = live_daemons();
  return *live[rng.below(live.size())];
}

void World::restart() {
  auto& old = live_daemon();
  old.dead = true;
  old.store.crash();
  model.abandon(old.id);
  auto options = old.options;
  if (rng.percent(30)) options.mode = options.mode == daemon::Mode::block ? daemon::Mode::strict : daemon::Mode::block;
  auto const id = static_cast<int>(daemons.size());
  daemons.push_back(std::make_unique<SimDaemon>(*this, id, old.connections, options, old.workers_percent));
  log("daemon", old.id, "is restarted as daemon", id, options.mode == daemon::Mode::block ? "block" : "strict");
  daemons.back()->store.start();
  ++outcome.faults;
}

void World::request() {
  auto& d = live_daemon();
  auto const name = pick_name(true);
  std::uint32_t count = 1;
  auto const r = rng.below(100);
  if (r < 50) {
    count = 1;
  } else if (r < 85) {
    count = static_cast<std::uint32_t>(rng.between(2, 8));
  } else {
    count = static_cast<std::uint32_t>(rng.between(9, std::max<std::int64_t>(60, 3 * d.options.strict_batch)));
  }
  // Read by the daemon once it runs; a killed one never reads it (its client sees the
  // connection refused).
  d.freeze.run([this, &d, name, count] {
    if (!d.dead) arrive(d, name, count);
  });
}

void World::arrive(SimDaemon& d, std::string const& name, std::uint32_t count) {
  auto const id = model.arrive(d.id, name, count, d.options.timeout, d.options.mode == daemon::Mode::block);
  log("request", id, "to daemon", d.id, "for", count, "of", name, "(op", db.ops(), ")");
  auto answer = [this, &d, id, name](AllocateResult result) {
    if (trace) {
      std::ostringstream text;
      if (result) {
        for (auto v : result->values) text << v << ' ';
      } else {
        text << errc_token(result.error().code) << ": " << result.error().message;
      }
      log("answer", id, text.str());
    }
    model.answer(id, result, d.core.allocator().reserved(name));
  };
  if (rng.percent(static_cast<unsigned>(d.workers_percent))) {
    // As on another event loop thread: numbers in memory at once, else through the core.
    std::vector<std::int64_t> numbers;
    bool refill = false;
    Printing printing;
    if (d.core.allocator().try_take(name, count, numbers, printing, refill)) {
      answer(daemon::Numbers{daemon::NumbersView(numbers), std::move(printing)});
      if (refill) {
        clock.after(rng.micros(1, 200), [&d, name] { d.freeze.run([&d, name] { d.core.allocator().refill(name); }); });
      }
      return;
    }
    clock.after(rng.micros(1, 200), [&d, name, count, answer = std::move(answer)]() mutable {
      d.freeze.run([&d, name, count, answer = std::move(answer)]() mutable {
        d.core.allocator().allocate(name, count, std::move(answer));
      });
    });
    return;
  }
  d.core.allocator().allocate(name, count, std::move(answer));
}

// An admin create of a random shape through daemon d.
void World::create_through(SimDaemon& d, std::string const& name) {
  bool valid = false;
  auto spec = random_shape(name, valid);
  nlohmann::json j;
  j["name"] = spec.name;
  j["start"] = spec.start;
  j["min"] = spec.min;
  j["max"] = spec.max;
  j["increment"] = spec.increment > 0 ? spec.increment : -spec.increment;
  j["descending"] = spec.increment < 0;
  j["cycle"] = spec.cycle;
  if (spec.mode) j["mode"] = *spec.mode;
  if (spec.format) j["format"] = *spec.format;
  if (spec.period) j["period"] = *spec.period;
  if (spec.time_zone) j["timezone"] = *spec.time_zone;
  log("admin: create", j.dump(), "through daemon", d.id);
  run_admin(d, daemon::AdminCommand{daemon::AdminCommand::Op::create, {}, {}, j.dump()}, "create " + spec.name,
            [this, spec, valid](daemon::AdminResult const& result) { model.create_answered(spec, valid, result); });
}

void World::run_admin(SimDaemon& d, daemon::AdminCommand command, std::string const& what,
                      std::function<void(daemon::AdminResult const&)> judge) {
  // Read by the daemon once it runs, as a request is.
  d.freeze.run([this, &d, command = std::move(command), what, judge = std::move(judge)]() mutable {
    if (d.dead) return;
    auto const id = model.admin_sent(d.id, what, d.options.admin_timeout);
    d.core.admin().run(std::move(command), [this, &d, what, id, judge = std::move(judge)](daemon::AdminResult result) {
      log("admin:", what, result ? "done" : result.error().message);
      if (d.dead) return;
      model.admin_answered(id);
      if (judge) judge(result);
    });
  });
}

void World::admin() {
  auto const name = pick_name(false);
  bool const through_daemon = rng.percent(70);
  auto const kind = rng.below(100);
  if (kind < 35) {  // create
    if (!through_daemon) {
      bool valid = false;
      auto spec = random_shape(name, valid);
      log("admin: the database creates", name, "behind the daemons' backs");
      (void)db.create(spec);
      return;
    }
    // Sometimes a pipeline of creates, which the daemon gives the database together (a name
    // may come twice in it).
    auto& d = live_daemon();
    auto const creates = rng.percent(30) ? rng.between(2, 5) : 1;
    for (std::int64_t i = 0; i < creates; ++i) create_through(d, i == 0 ? name : pick_name(false));
  } else if (kind < 70) {  // reset
    std::optional<std::int64_t> to;
    if (auto const* info = db.info(name); info != nullptr && rng.percent(50)) {
      to = rng.between(info->min, info->max);
      std::int64_t const step = info->increment > 0 ? info->increment : -info->increment;
      // On the grid of the start, mostly; anywhere in range sometimes.
      if (rng.percent(80)) to = static_cast<std::int64_t>(info->start + (i128(*to) - info->start) / step * step);
    }
    if (!through_daemon) {
      log("admin: the database resets", name);
      (void)db.reset(name, to);
      return;
    }
    auto& d = live_daemon();
    log("admin: reset", name, to ? std::to_string(*to) : "", "through daemon", d.id);
    run_admin(d, daemon::AdminCommand{daemon::AdminCommand::Op::reset, name, to, {}}, "reset " + name);
  } else if (kind < 92) {  // drop
    if (!through_daemon) {
      log("admin: the database drops", name);
      (void)db.drop(name);
      return;
    }
    auto& d = live_daemon();
    log("admin: drop", name, "through daemon", d.id);
    run_admin(d, daemon::AdminCommand{daemon::AdminCommand::Op::drop, name, {}, {}}, "drop " + name);
  } else {  // list or inspect
    auto& d = live_daemon();
    bool const list = rng.percent(50);
    run_admin(d,
              daemon::AdminCommand{list ? daemon::AdminCommand::Op::list : daemon::AdminCommand::Op::inspect,
                                   list ? std::string() : name,
                                   {},
                                   {}},
              list ? "list" : "inspect " + name, [this](daemon::AdminResult const& result) {
                if (!result && result.error().code == Errc::internal) {
                  model.fail("admin list or inspect failed: " + result.error().message);
                }
              });
  }
}

void World::schedule_requests() {
  auto const end = clock.start() + settings.active;
  auto const gap_max = rng.between(500, 6000);
  for (auto t = clock.start() + rng.micros(0, 20'000); t < end; t += rng.micros(50, gap_max)) {
    clock.at(t, [this] { request(); });
  }
}

void World::schedule_admin() {
  auto const end = clock.start() + settings.active;
  for (auto t = clock.start() + rng.micros(5'000, 80'000); t < end; t += rng.micros(10'000, 150'000)) {
    clock.at(t, [this] { admin(); });
  }
}

void World::schedule_clock() {
  // The database's clock jumps ahead now and then (a daemon sees it only in what the database
  // answers); in some worlds it goes back too, and the periods entered stay.
  if (!rng.percent(50)) return;
  bool const back = rng.percent(40);
  auto const end = clock.start() + settings.active;
  for (auto t = clock.start() + rng.micros(0, 200'000); t < end; t += rng.micros(30'000, 300'000)) {
    clock.at(t, [this, back] {
      auto const by = back && rng.percent(30) ? -rng.micros(1'000, 300'000) : rng.micros(1'000, 600'000);
      log("the database's clock moves by", std::chrono::duration_cast<std::chrono::microseconds>(by).count(), "us");
      db.move_clock(by);
    });
  }
}

void World::schedule_faults() {
  if (!settings.faults) return;
  auto const end = clock.start() + settings.active;
  for (auto t = clock.start() + rng.micros(0, 100'000); t < end; t += rng.micros(10'000, 200'000)) {
    clock.at(t, [this] {
      auto& d = live_daemon();
      auto const conn = rng.below(d.store.connections());
      // The daemon finds the connection broken once it runs.
      d.freeze.run([&d, conn] { d.store.kill(conn); });
      ++outcome.faults;
    });
  }
  for (int i = static_cast<int>(rng.below(3)); i > 0; --i) {
    clock.at(
        clock.start() + rng.micros(0, std::chrono::duration_cast<std::chrono::microseconds>(settings.active).count()),
        [this] {
          auto& d = live_daemon();
          auto const span = rng.micros(50'000, 800'000);
          d.freeze.run([&d, span] { d.store.cut_off(span); });
          ++outcome.faults;
        });
  }
  auto const active_us = std::chrono::duration_cast<std::chrono::microseconds>(settings.active).count();
  if (later_faults.percent(30)) {
    for (auto i = later_faults.between(1, 2); i > 0; --i) {
      clock.at(clock.start() + later_faults.micros(0, active_us), [this] { restart(); });
    }
  }
  // A daemon's wall clock is stepped (by NTP, or as its machine wakes): ahead, it ends the blocks
  // of periodic sequences early; back, it changes nothing.
  if (later_faults.percent(30)) {
    for (auto i = later_faults.between(1, 3); i > 0; --i) {
      clock.at(clock.start() + later_faults.micros(0, active_us), [this] {
        auto& d = live_daemon();
        auto const by = rng.micros(-300'000, 300'000);
        log("daemon", d.id, "'s wall clock is stepped by",
            std::chrono::duration_cast<std::chrono::microseconds>(by).count(), "us");
        d.clock.step_wall(by);
        ++outcome.faults;
      });
    }
  }
  // A daemon's database is out of reach for longer than its timeouts: what waits is answered by
  // its deadline, an admin command whose change was done (reading it back) too.
  if (later_faults.percent(20)) {
    auto const span = later_faults.micros(1'000'000, 6'000'000);
    clock.at(clock.start() + later_faults.micros(0, active_us), [this, span] {
      auto& d = live_daemon();
      log("daemon", d.id, "cannot reach the database for",
          std::chrono::duration_cast<std::chrono::milliseconds>(span).count(), "ms");
      d.freeze.run([&d, span] { d.store.cut_off(span); });
      ++outcome.faults;
    });
  }
  // A daemon's process is stopped for a while and goes on (SIGSTOP and SIGCONT, a paused virtual
  // machine, a machine swapping): meanwhile the others serve, admin changes happen, notices and
  // answers wait for it, its timers are late, and its blocks' periods may end.
  if (later_faults.percent(20)) {
    for (auto i = later_faults.between(1, 3); i > 0; --i) {
      auto const span =
          later_faults.percent(70) ? later_faults.micros(5'000, 400'000) : later_faults.micros(400'000, 4'000'000);
      auto const pick = later_faults.next();
      clock.at(clock.start() + later_faults.micros(0, active_us), [this, span, pick] {
        auto const live = live_daemons();
        auto& d = *live[pick % live.size()];
        log("daemon", d.id, "is stopped for", std::chrono::duration_cast<std::chrono::milliseconds>(span).count(),
            "ms");
        model.frozen(d.id, clock.now() + span);
        d.freeze.until(clock.now() + span);
        ++outcome.faults;
      });
    }
  }
  // Connections' notice probes fail now and then (a second connection refused, a notice late): a
  // connection that hears none refuses block mode until a later probe hears one.
  if (probes.percent(25)) {
    deaf_percent = static_cast<unsigned>(probes.between(10, 70));
    if (probes.percent(80)) reprobe_first = probes.micros(20'000, 600'000);
    if (probes.percent(80)) reprobe_unheard_first = probes.micros(50'000, 1'500'000);
  }
  // Strangers send notices on the channel: for real names, for names of nothing, for nonsense.
  for (auto t = clock.start() + rng.micros(0, 50'000); t < end; t += rng.micros(5'000, 120'000)) {
    clock.at(t, [this] {
      auto& d = live_daemon();
      std::string const nonsense[] = {"forward 999999999999", "Bad Name", "", std::string(300, 'x'), "nothing-here"};
      auto const name = rng.percent(70) ? pick_name(false) : nonsense[rng.below(5)];
      log("a stranger notifies", name);
      d.freeze.run([&d, name] { d.store.notice(name); });
      ++outcome.faults;
    });
  }
}

SeedResult World::run() {
  setup();
  schedule_requests();
  schedule_admin();
  schedule_faults();
  schedule_clock();
  // After the active part nothing new starts; whatever waits is answered by its deadline.
  auto const limit = clock.start() + settings.active + 30s;
  while (!model.violation && clock.now() < limit && clock.step()) {
  }
  if (!model.violation) model.finish();
  if (model.violation) {
    outcome.ok = false;
    outcome.violation = *model.violation;
  }
  return outcome;
}

}  // namespace

SeedResult run_seed(std::uint64_t seed, std::ostream* trace) {
  World world(seed, trace);
  return world.run();
}

}  // namespace pez::sim
