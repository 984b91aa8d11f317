// SPDX-License-Identifier: Apache-2.0
// The two ways of taking numbers behind the Allocator (see allocator.hpp).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/alloc/catalog.hpp"
#include "daemon/alloc/store.hpp"
#include "daemon/ops/log_throttle.hpp"

namespace pez::daemon {

// The answer for a failed exchange on sequence name for a request of count numbers.
Error sequence_error(std::string const& name, std::uint64_t count, StoreError const& error);

// The refusal (400) of a request for more numbers than one pass of a cycling sequence holds (one
// answer of more would repeat a number), by info's shape; none when count fits.
std::optional<Error> beyond_one_pass(std::string const& name, SequenceInfo const& info, std::uint64_t count);

// What a source needs from the daemon.
struct SourceContext {
  CoreClock& clock;
  Store& store;
  Metrics& metrics;
  std::chrono::milliseconds timeout;
  std::function<void()> wake;  // a request now waits: keep the deadline sweep running
  // The database handed out value of sequence name in period (of a periodic sequence, yyyymmdd;
  // else 0), for the wrap warning; exhausted: the sequence does not cycle and cannot give what
  // was asked (value and period 0).
  std::function<void(std::string const& name, std::int64_t value, bool exhausted, std::int32_t period)> observed;
};

// When to try again after an exchange for a sequence failed (or brought nothing usable): after
// 10 ms the first time, then after waits that double up to a second. A success resets it.
class Retry {
 public:
  // Notes a failure now, and what it answered (if anything); the sequence waits until ready_at().
  void failed(Clock::time_point now, std::optional<Error> answered = std::nullopt);
  void succeeded() {
    m_delay = Clock::duration::zero();
    m_at = {};
    m_answered.reset();
  }
  Clock::time_point ready_at() const { return m_at; }
  // While the sequence waits at now, what its last failure answered: a request whose deadline
  // comes first gets that answer, not only that its time ran out.
  std::optional<Error> waiting_after(Clock::time_point now) const { return m_at > now ? m_answered : std::nullopt; }

 private:
  Clock::duration m_delay{};
  Clock::time_point m_at{};
  std::optional<Error> m_answered;
};

// Strict mode (DESIGN §1): every number is taken from the database after its request arrived
// and answered only after the database committed. Requests for the same sequence that wait at
// the same time share one statement; each still gets its own numbers, in arrival order. The
// waiting requests of several sequences share one statement too (Store::take_many, each
// sequence's take apart), each sequence still in one statement at a time.
class StrictSource final : public Source {
 public:
  StrictSource(SourceContext ctx, std::uint32_t batch_limit);
  void take(Request request) override;
  bool can_answer_now(std::string_view, std::uint32_t) const override { return false; }
  void pump() override;
  void database_down(Error const& error) override;
  void expire(Clock::time_point now, Error const& late) override;
  std::size_t pending() const override;
  std::uint64_t reserved(std::string_view) const override { return 0; }

 private:
  struct Batch {
    std::string name;
    std::uint32_t total = 0;
    std::vector<Request> requests;
    Clock::time_point sent;
  };
  bool waits(std::string const& name, Clock::time_point now);
  // Takes the waiting requests of name that go in its next statement out of the queue.
  std::shared_ptr<Batch> gather(std::string const& name);
  void run(std::shared_ptr<Batch> const& batch);
  void run_many(std::vector<std::shared_ptr<Batch>> group);
  void finish(std::shared_ptr<Batch> const& batch, TakeResult result);
  void finish_many(std::vector<std::shared_ptr<Batch>> const& group, TakeManyResult result);
  // What a batch's statement (or its row of a statement of several) answered.
  void settle(std::shared_ptr<Batch> const& batch, TakeResult result);
  void take_failed(Batch& batch, StoreError const& error);
  void refuse(Batch& batch, StoreError const& error);
  void refuse_waiting(Batch const& batch, StoreError const& error);
  void hand_out(Batch& batch, Taken&& taken);
  // Answers the requests handed out by the statements just settled.
  void deliver();
  void requeue(Batch& batch);
  void arm_retry(Clock::time_point at);

  SourceContext m_ctx;
  std::uint32_t m_batch_limit;
  std::deque<Request> m_queue;
  std::vector<std::shared_ptr<Batch>> m_in_flight;
  // Numbers handed out but not answered yet: a settled statement's requests are answered once
  // the next statement is on its way, so that the database does not wait for their answers to
  // be written.
  struct Ready {
    std::string name;
    std::vector<std::int64_t> numbers;
    Printing printing;
    std::vector<Request> requests;
  };
  std::vector<Ready> m_ready;
  std::map<std::string, Retry, std::less<>> m_retry;
  // Sequences (and their generation) near the end of a range without cycle: one request per
  // statement, so that a request for more than is left fails alone and smaller ones get the rest.
  std::map<std::string, std::int64_t, std::less<>> m_one_by_one;
  // Sequences whose last statement took longer than request_timeout: each goes in a statement of
  // its own until one succeeds.
  std::set<std::string, std::less<>> m_alone;
  std::unique_ptr<CoreTimer> m_retry_timer;
  Clock::time_point m_retry_due{};
  LogThrottle m_failure_log{5};
};

// Block mode (DESIGN §1): blocks of numbers are reserved ahead and served from memory, the next
// block fetched while the current one still lasts. A block is sized to last about
// BlockOptions::duration at the rate the sequence is being used. While the database is away,
// requests are served from what is reserved.
class BlockSource final : public Source {
 public:
  BlockSource(SourceContext ctx, BlockOptions options);
  void take(Request request) override;
  bool can_answer_now(std::string_view name, std::uint32_t count) const override;
  void pump() override;
  void database_down(Error const& error) override;
  void expire(Clock::time_point now, Error const& late) override;
  std::size_t pending() const override;
  std::uint64_t reserved(std::string_view name) const override;

  // From any thread: takes count numbers into out if they are in memory and nobody waits before
  // this request. Sets refill when the reserve ran low; the caller then asks the database's
  // thread to call refill(name).
  bool try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out, Printing& printing,
                bool& refill);
  void refill(std::string const& name);
  // Numbers of name are in memory, or it has run out; otherwise a first block is asked for.
  bool warm_up(std::string const& name);

  // This daemon created or reset sequence name and the database answered generation: numbers
  // reserved before are thrown away, so none from before the change is handed out after it.
  void invalidate(std::string const& name, std::int64_t generation);
  // This daemon dropped sequence name: its reserve goes. Answers the requests that waited for it
  // (the name may exist again by the time the catalog is read).
  std::vector<Request> dropped(std::string const& name);
  // A change of name was announced: nothing of it is served from memory until catalog read
  // `read` (or a later one) is done.
  void announced(std::string const& name, std::uint64_t read);
  // Block mode cannot be trusted (no change notices arrive): every reserve goes, and nothing is
  // served until allowed again (a new reason while refused replaces the last); or, with none, it
  // is allowed again.
  void refuse(std::optional<Error> why);
  // A catalog read is done: reserves of older generations, of vanished sequences and of those now
  // served in strict mode go. Answers the requests that waited for the latter.
  std::vector<Request> sync(Catalog const& catalog, std::function<bool(SequenceInfo const&)> const& in_block_mode);

 private:
  // first, first + step, ... last
  struct Range {
    std::int64_t next;
    std::int64_t last;
    std::int64_t step;
    std::int64_t generation;
    // The sequence wrapped between the range before and this one: numbers from here on may
    // repeat numbers before it, so an answer takes numbers from both sides only when they
    // cannot meet.
    bool new_pass = false;
  };
  struct Reserve {
    std::string name;
    // This reserve's life in this daemon: a block asked for by an earlier reserve of the same
    // name (before a drop) is never served by this one.
    std::uint64_t epoch = 0;
    std::deque<Range> ranges;
    std::uint64_t available = 0;
    std::size_t new_passes = 0;  // ranges in ranges with new_pass set
    std::deque<Request> waiters;
    bool fetching = false;   // a reserve statement is running
    bool queued = false;     // waiting for a free connection (or for its retry time)
    bool urgent = false;     // queued while requests wait for it: asked for before those merely low
    bool alone = false;      // a reserve of several sequences failed as a whole: asked for alone next
    bool timed_out = false;  // the last reserve statement took longer than request_timeout: asked for alone
    std::uint64_t last_block = 0;
    double rate = 0;  // numbers per second, smoothed
    std::uint64_t served_since = 0;
    Clock::time_point measured_at{};
    bool run_out = false;         // the sequence does not cycle and has no number left to reserve
    std::int64_t generation = 0;  // ranges of older generations are stale
    std::uint64_t fence = 0;      // serve nothing from memory before catalog read `fence` is done
    Retry retry;
    // A periodic sequence's: the period every range held belongs to (yyyymmdd), and when this
    // daemon stops handing them out (the period's end as the database saw it, measured from when
    // the block was asked for, less a thousandth for clocks that run apart), on the steady clock
    // and on the wall clock, whichever comes first: a machine that slept (suspended, or a virtual
    // machine paused and its clock set on resuming) finds its steady clock behind; after it ran
    // out (without cycle), when to ask again (the next period may hold numbers).
    std::int32_t period = 0;
    std::optional<Moment> period_ends;
    // When the period of the last block ends by the database's clock, measured from when that
    // block was asked for (no thousandth taken off): a block asked for near it is sized by the time
    // left, and one asked for after it is the smallest (the database may still be in the old
    // period, whose numbers would be dropped at once), until a block of the next period tells.
    std::optional<Clock::time_point> period_boundary;
    std::optional<Clock::time_point> run_out_until;
    // How the numbers are printed (the catalog's template), handed out with them.
    std::shared_ptr<number_template::NumberTemplate const> format;
    bool periodic = false;  // the catalog's
  };
  // An answer decided under the lock and given after it is released (handlers may take time or
  // call back in).
  struct Delivery {
    Request request;
    std::vector<std::int64_t> numbers;
    std::optional<Error> error;
    Printing printing;
  };
  using Deliveries = std::vector<Delivery>;
  using Reserves = NameMap<Reserve>;

  Reserve& reserve(std::string const& name);
  bool can_take(Reserve const& r, std::uint32_t count) const;
  // Where in what is held count numbers can be taken without one answer holding a number twice
  // (see Range::new_pass): the index of the first range to take from (the ranges before it are
  // burned), or none.
  static std::optional<std::size_t> start_for(Reserve const& r, std::uint32_t count);
  static void skip_to(Reserve& r, std::size_t first_range);
  // A periodic sequence's period is over here: what is held of it goes (and a sequence that ran
  // out may hold numbers again).
  void end_period_locked(Reserve& r);
  bool period_over(Reserve const& r) const;
  // Takes the block into r (fetched): false if it is of a period that is over.
  bool add_block_locked(Reserve& r, Block const& block, Moment asked_at);
  void take_numbers(Reserve& r, std::uint32_t count, std::vector<std::int64_t>& out);
  void serve_waiters(Reserve& r, Deliveries& out);
  bool low(Reserve const& r) const;
  void want_block(Reserve& r);
  // Puts r in the queue of reserves to fetch: before those merely low when requests wait for it.
  void enqueue_locked(Reserve& r);
  void pump_locked();
  std::uint64_t next_block_size(Reserve& r);
  void fetch(Reserve& r);
  // One statement reserves a block of each (Store::reserve_many).
  void fetch_many(std::vector<Reserve*> batch);
  struct Asked {
    std::string name;
    std::uint64_t epoch = 0;
    std::int64_t generation = 0;
    std::uint64_t size = 0;
  };
  // A reserve of several failed as a whole (not one sequence's refusal, which comes in its row):
  // each is asked for alone.
  void ask_alone(std::vector<Asked> const& asked);
  // generation: the reserve's when the block was asked for.
  void fetched(std::string const& name, std::uint64_t epoch, std::int64_t generation, std::uint64_t asked,
               Moment asked_at, ReserveResult result);
  static void fail_waiters(Reserve& r, Error const& error, Deliveries& out);
  // Drops ranges older than generation.
  void invalidate_locked(Reserve& r, std::int64_t generation);
  void erase_locked(Reserves::iterator it, Deliveries& out);
  // What a catalog read or a change leaves to do: serve who can be, fetch for the rest.
  void resume_locked(Reserve& r, Deliveries& out);
  void deliver(Deliveries& out);

  SourceContext m_ctx;
  BlockOptions m_options;
  mutable std::mutex m_lock;  // guards everything below: worker threads take numbers too
  Reserves m_reserves;
  // The names of the reserves that may hold waiting requests (some may since have none, or be
  // gone): the deadline sweep and the count of pending requests walk these, not every reserve.
  NameSet m_waiting;
  std::deque<std::string> m_fetch_queue;   // reserves that run low
  std::deque<std::string> m_fetch_urgent;  // reserves that requests wait for
  std::uint64_t m_read_done = 0;           // the latest catalog read applied
  // When those merely low go without a statement of their own to share (see pump_locked).
  static constexpr Clock::duration k_gather = std::chrono::milliseconds(50);
  std::optional<Clock::time_point> m_gather_until;
  // Fences (see Reserve::fence) announced for sequences that had no reserve then.
  std::map<std::string, std::uint64_t, std::less<>> m_fences;
  std::uint64_t m_next_epoch = 1;
  std::optional<Error> m_refusing;  // see refuse()
  std::unique_ptr<CoreTimer> m_retry_timer;
  Clock::time_point m_retry_due{};
  LogThrottle m_failure_log{5};
};

}  // namespace pez::daemon
