// SPDX-License-Identifier: Apache-2.0
// The seam between the allocation core (Allocator, StrictSource, BlockSource, Admin) and the
// database: everything the core asks of PostgreSQL and hears from it, and the clock it reads.
//
// Database (database.cpp) is the real store: PostgreSQL connections driven by libpq. The
// deterministic simulation (tests/sim/) runs the same core against an in-process fake of the
// same functions (tests/sim/fake_db.cpp), with its own clock, and checks every answer against a
// model.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/admin.hpp"
#include "daemon/alloc/catalog.hpp"

namespace pez::daemon {

class Usage;
using Clock = std::chrono::steady_clock;
// The wall clock: it goes on while the machine sleeps, where steady_clock (CLOCK_MONOTONIC) stands.
using WallClock = std::chrono::system_clock;

// A failed exchange with the database, classified once, where it was read (the store).
struct StoreError {
  enum class Kind {
    lost,        // the connection broke, the server became read-only, or the exchange drew a
                 // warning: whatever it took is burned; the statement may be tried again
    timeout,     // no answer in time: whatever it took is burned; answer unavailable
    not_found,   // no such sequence
    exhausted,   // a sequence without cycle has fewer numbers left than asked for; none taken
    invalid,     // the server refused the arguments (message says why): a bad request
    exists,      // create: the name is taken
    in_use,      // the object may not be changed that way (drop of forward or reverse)
    denied,      // the database role may not do this
    unreadable,  // an answer pezd cannot read (unreadable_answer): whatever it took is burned
    internal,    // anything else
  };
  Kind kind;
  std::string message;  // the server's sentence, or pezd's
};

// An answer of a shape pezd's statements never get from the schema files it applied (what: what
// the database answered, "pez.take with 2 numbers for 3"): an internal error that says where to
// look. The numbers of such an exchange are burned. Its message is the whole answer a client
// gets (an internal error), not a refusal.
inline StoreError unreadable_answer(std::string const& what) {
  return StoreError{StoreError::Kind::unreadable,
                    "the database answered " + what +
                        "; pezd expects the functions of schema pez as its schema files (/usr/share/pez/sql) "
                        "define them: compare them with the database's and re-create any that was changed"};
}

// A block of numbers reserved for one daemon: first, first + step, ..., last.
struct Block {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::int64_t step = 1;
  std::int64_t generation = 0;  // of the sequence when the block was reserved
  // A periodic sequence's: the period the block belongs to (yyyymmdd of its first day) and how
  // long that period lasted after the database took the block (its numbers are not handed out
  // after that). 0 and none for a sequence without period.
  std::int32_t period = 0;
  std::optional<Clock::duration> valid_for;
};

// The numbers a take got, and the period they belong to (yyyymmdd; 0 without period).
struct Taken {
  std::vector<std::int64_t> numbers;
  std::int32_t period = 0;
};

// A change an operator asks for (pez admin create, reset, drop).
struct Change {
  enum class Op { create, reset, drop };
  Op op = Op::create;
  std::string name;                // reset, drop; create: spec.name
  CreateSpec spec;                 // create
  std::optional<std::int64_t> to;  // reset
};

// One sequence as pez admin list and inspect show it.
struct SequenceRow {
  SequenceInfo info;
  std::int64_t last_value = 0;
  bool is_called = false;
  std::string description;
  std::optional<std::string> created_at;  // ISO 8601, UTC
  std::optional<std::string> reset_at;
  std::int64_t pezd_connections = 0;  // connections to the database named pezd
  std::int32_t current_period = 0;    // a periodic sequence's, yyyymmdd (0: none yet, or no period)
};

// One block asked for in a reserve of several sequences at once.
struct ReserveAsk {
  std::string name;
  std::uint64_t count = 0;
};

// Numbers asked of one sequence in a take of several sequences at once.
struct TakeAsk {
  std::string name;
  std::uint32_t count = 0;
};

using TakeResult = std::expected<Taken, StoreError>;
// Every ask's numbers or refusal, in the order asked; or one error for all of them.
using TakeManyResult = std::expected<std::vector<TakeResult>, StoreError>;
using TakeManyHandler = std::move_only_function<void(TakeManyResult)>;
using ReserveResult = std::expected<Block, StoreError>;
// Every ask's block or refusal, in the order asked; or one error for all of them.
using ReserveManyResult = std::expected<std::vector<ReserveResult>, StoreError>;
using ReserveManyHandler = std::move_only_function<void(ReserveManyResult)>;
using ChangeResult = std::expected<std::int64_t, StoreError>;  // the generation (0 for drop)
// Each create's generation or refusal, in the order asked; or one error for all of them.
using CreateManyResult = std::expected<std::vector<ChangeResult>, StoreError>;
using CreateManyHandler = std::move_only_function<void(CreateManyResult)>;
using DescribeResult = std::expected<std::vector<SequenceRow>, StoreError>;
using TakeHandler = std::move_only_function<void(TakeResult)>;
using ReserveHandler = std::move_only_function<void(ReserveResult)>;
using ChangeHandler = std::move_only_function<void(ChangeResult)>;
using DescribeHandler = std::move_only_function<void(DescribeResult)>;

// What the store tells the core. Each is called on the core thread, never from inside a call
// of the core into the store.
class StoreEvents {
 public:
  virtual ~StoreEvents() = default;
  // A connection became free for a statement.
  virtual void store_available() = 0;
  // The catalog was read (Store::catalog() holds what it found).
  virtual void store_catalog() = 0;
  // Someone announced a change of sequence name on the change channel. Anyone may send such a
  // notice: it is only a reason to read the catalog again, never a fact.
  virtual void store_notice(std::string const& name) = 0;
  // No connection is up and the latest attempt failed.
  virtual void store_down(std::string const& why) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual void set_events(StoreEvents* events) = 0;

  // Whether a connection is free to run a statement now.
  virtual bool can_send() const = 0;
  // Each runs one statement on a free connection (can_send() must be true) and calls its handler
  // once, when the exchange is over, before the connection is offered again (store_available).
  // Numbers are the handler's only when the whole exchange ended cleanly.
  virtual void take(std::string const& name, std::uint32_t count, TakeHandler handler) = 0;
  virtual void reserve(std::string const& name, std::uint64_t count, ReserveHandler handler) = 0;
  // Takes the numbers asked of each sequence (by name, each name once, at most take_batch() of
  // them) in one statement: one transaction, one durable commit, sequences locked in the order of
  // their names. Each take runs apart (a subtransaction): one that the sequence refuses (run out,
  // dropped, ...) takes nothing and is answered with its refusal, and the others keep their
  // numbers. When the statement itself fails (a standby now, a lost connection) the answer is
  // that one error, and whatever it took is burned.
  virtual void take_many(std::vector<TakeAsk> const& asks, TakeManyHandler handler) {
    (void)asks;
    handler(std::unexpected(StoreError{StoreError::Kind::internal, "this store takes from one sequence a statement"}));
  }
  // How many sequences one take_many may ask of; 1: the store does not take from several at once.
  virtual std::size_t take_batch() const { return 1; }
  // Reserves a block of each sequence asked for (by name, each name once, at most
  // reserve_batch() of them) in one statement: one transaction, one commit, sequences locked in
  // the order of their names. Each reserve runs apart (a subtransaction): one that the sequence
  // refuses (run out, dropped, ...) takes nothing and is answered with its refusal, and the
  // others keep their blocks. When the statement itself fails (a standby now, a lost connection)
  // the answer is that one error, and whatever it took is burned.
  virtual void reserve_many(std::vector<ReserveAsk> const& asks, ReserveManyHandler handler) {
    (void)asks;
    handler(std::unexpected(StoreError{StoreError::Kind::internal, "this store reserves one sequence a statement"}));
  }
  // How many sequences one reserve_many may ask for; 1: the store does not reserve several at once.
  virtual std::size_t reserve_batch() const { return 1; }
  virtual void change(Change const& change, ChangeHandler handler) = 0;
  // Creates each sequence asked for (at most create_batch() of them) in the order asked, in one
  // statement: one transaction, one commit. Each create runs apart (a subtransaction), so one
  // that is refused changes nothing and the others still happen. When the statement itself fails
  // the answer is that error, for all of them, as a change's would be.
  virtual void create_many(std::vector<CreateSpec> const& specs, CreateManyHandler handler) {
    (void)specs;
    handler(std::unexpected(StoreError{StoreError::Kind::internal, "this store creates one sequence a statement"}));
  }
  // How many sequences one create_many may create; 1: the store does not create several at once.
  virtual std::size_t create_batch() const { return 1; }
  // Every sequence (name empty) or one.
  virtual void describe(std::string const& name, DescribeHandler handler) = 0;

  // The sequences of schema pez as last read.
  virtual Catalog const& catalog() const = 0;
  // Reads the catalog again on the next free connection; a read already running is followed by
  // another. Answers the number of a read that starts after this call: once catalog() holds a
  // read of that number or later, it shows every change committed before the call.
  virtual std::uint64_t refresh_catalog() = 0;
  // Reads again what the catalog holds of sequence name alone (on the next free connection, as
  // refresh_catalog; a whole read wanted meanwhile covers it, and names asked for meanwhile are
  // read together). Answers the number of a read that starts after this call and covers name:
  // once catalog() holds a read of that number or later, it shows every change of name committed
  // before the call. A store that reads only whole catalogs reads the whole.
  virtual std::uint64_t refresh_entry(std::string const& name) {
    (void)name;
    return refresh_catalog();
  }
  // A name the catalog does not hold, already answered 404: read soon, in case it is a sequence
  // made by hand (which announces itself to nobody). A store may wait a moment to read the names
  // asked for meanwhile together, so that names that do not exist cost the database one read a
  // moment however many arrive.
  virtual void look_up(std::string const& name) { refresh_entry(name); }
  // A whole read of the catalog is wanted or running: what it holds may be out of date.
  virtual bool catalog_stale() const = 0;
  // The catalog holds every sequence but those whose change notice is on its way: it was read
  // whole while a connection heard change notices, and that connection has heard them ever
  // since. (A sequence made by hand, announced to nobody, may still be missing.)
  virtual bool catalog_complete() const { return false; }

  virtual bool up() const = 0;    // some connection is set up
  virtual bool down() const = 0;  // none is, and the latest attempt failed
  virtual std::string last_error() const = 0;
  // Why change notices cannot be heard (block mode needs them), or nothing when they can.
  virtual std::optional<std::string> notices_problem() const = 0;
  // A sequence served in block mode was asked for: block mode needs change notices. A store that
  // probes whether they arrive probes again, from now on, a connection whose notice did not (as
  // it does from the start in a daemon serving block mode by default).
  virtual void block_used() {}
  // Why no number may be taken at all (require_synchronous_standby without a synchronous
  // standby), or nothing.
  virtual std::optional<std::string> safety_problem() const { return std::nullopt; }
  // How fast each sequence is used by every daemon together, as last read; nothing when this
  // store does not read it.
  virtual Usage const* usage() const { return nullptr; }
};

// The clock and timers of the core: the event loop's, or the simulation's.
class CoreTimer {
 public:
  virtual ~CoreTimer() = default;
  // Calls fn once after delay on the core thread, unless cancelled or started again first.
  virtual void start(Clock::duration delay, std::function<void()> fn) = 0;
  virtual void cancel() = 0;
  virtual bool armed() const = 0;
};

// One moment on both clocks.
struct Moment {
  Clock::time_point steady;
  WallClock::time_point wall;
};

class CoreClock {
 public:
  virtual ~CoreClock() = default;
  virtual Clock::time_point now() const = 0;
  virtual WallClock::time_point wall_now() const = 0;
  virtual std::unique_ptr<CoreTimer> timer() = 0;
  Moment moment() const { return Moment{now(), wall_now()}; }
};

}  // namespace pez::daemon
