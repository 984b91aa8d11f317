// SPDX-License-Identifier: Apache-2.0
// Where numbers come from. A request names a sequence and a count and is answered once, with
// numbers that no other request ever gets, or with an error.
//
// The Allocator is the front: it checks the sequence against the catalog, hands the request to
// the source of the sequence's mode (strict or block), and answers whatever is late. It reaches
// the database only through the Store (store.hpp) and reads time only from a CoreClock, so the
// deterministic simulation (tests/sim/) runs it as pezd does.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/errors.hpp"
#include "common/format.hpp"
#include "daemon/alloc/store.hpp"
#include "daemon/config/config.hpp"

namespace pez::daemon {

class BlockSource;
class Metrics;

// The numbers of one answer. They are valid only while the handler runs: copy what you keep.
using NumbersView = std::span<std::int64_t const>;
// The numbers and what they are printed with (a formatted sequence's template and period).
struct Numbers {
  Numbers() = default;
  Numbers(NumbersView v) : values(v) {}  // NOLINT(google-explicit-constructor): bare numbers
  Numbers(NumbersView v, Printing p) : values(v), printing(std::move(p)) {}
  NumbersView values;
  Printing printing;
};
using AllocateResult = std::expected<Numbers, Error>;
using AllocateHandler = std::move_only_function<void(AllocateResult)>;

// One request waiting for numbers of a sequence that exists.
struct Request {
  std::string name;
  std::uint32_t count = 0;
  Clock::time_point deadline;
  AllocateHandler handler;
  // Block mode: the catalog read that must be done before this request is served from memory
  // (a change of the sequence was announced before it arrived).
  std::uint64_t fence = 0;

  bool answered() const { return !handler; }
  void answer(AllocateResult result) {
    auto h = std::move(handler);
    handler = nullptr;
    h(std::move(result));
  }
};

// Whether an answer of unavailable tells the client to try again later: not where what it asked
// for is done and only a part after it failed (an admin change's read back).
enum class Advice : bool { none, try_again };
Error unavailable_error(std::string const& why, Advice advice = Advice::try_again);
// The database took longer than allowed (why: "the database did not answer within 5s
// (request_timeout)"): it may be up but slow, or a transaction may hold a lock pezd's statement
// waits for, so the answer does not say it is down.
Error timeout_error(std::string const& why, Advice advice = Advice::try_again);
// A request's own time ran out while the statement it waits for still runs (or took too long).
Error unanswered_error(std::chrono::milliseconds request_timeout);
// Numbers are refused while Store::safety_problem gives a reason (answered as unavailable).
Error refused_error(std::string const& why);

// A way of taking numbers: strict (one database exchange per request, shared by requests that
// wait together) or block (served from blocks reserved ahead).
class Source {
 public:
  virtual ~Source() = default;
  virtual void take(Request request) = 0;
  // Could a request for count numbers be answered now without the database?
  virtual bool can_answer_now(std::string_view name, std::uint32_t count) const = 0;
  // A database connection is free.
  virtual void pump() = 0;
  // The database went away: answer what cannot be answered without it.
  virtual void database_down(Error const& error) = 0;
  // Answer requests whose deadline passed.
  virtual void expire(Clock::time_point now, Error const& late) = 0;
  virtual std::size_t pending() const = 0;
  // Numbers held in memory and not handed out yet.
  virtual std::uint64_t reserved(std::string_view name) const = 0;
};

struct AllocatorOptions {
  std::chrono::milliseconds timeout{5000};
  Mode mode = Mode::strict;
  BlockOptions block;
  double wrap_warning = 0.9;
  // Most numbers one strict statement takes for several waiting requests (one request alone
  // may ask for more).
  std::uint32_t strict_batch = 20000;
  // How long an admin command may wait for a connection (Admin; admin_timeout).
  std::chrono::milliseconds admin_timeout{10000};
};

class Allocator {
 public:
  Allocator(CoreClock& clock, Store& store, Metrics& metrics, AllocatorOptions options);
  ~Allocator();
  Allocator(Allocator const&) = delete;
  Allocator& operator=(Allocator const&) = delete;

  // Answers handler exactly once, possibly before returning. A count of 0 only checks that the
  // sequence exists (HEAD requests take no numbers).
  void allocate(std::string_view name, std::uint32_t count, AllocateHandler handler);
  std::size_t pending() const;
  std::uint64_t reserved(std::string_view name) const;
  Mode mode() const { return m_options.mode; }
  // Whether numbers can be handed out now (for /readyz): the database is up, it is not refused
  // (Store::safety_problem), and in block mode change notices arrive and the block source no
  // longer refuses (it learns of a change at the next offer of a connection or catalog read).
  bool serving() const;
  // Why change notices cannot be heard (block-mode sequences are refused then), or nothing.
  std::optional<std::string> notices_problem() const;

  // From any thread, block mode: takes numbers already in memory (see BlockSource::try_take).
  bool try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out, Printing& printing,
                bool& refill);
  // On the core thread, after try_take said the reserve runs low.
  void refill(std::string const& name);
  // Whether sequence name can be served at once: in block mode a first block is asked for
  // until it is in memory (pezd tells systemd it is ready only then). False until the catalog
  // is read.
  bool warm_up(std::string const& name);
  // How much of each sequence's range is used, as far as this daemon has seen (for /metrics).
  struct Watch {
    std::int64_t generation = 0;
    std::int64_t last = 0;
    std::int32_t period = 0;  // of a periodic sequence, the latest seen (yyyymmdd)
    bool has_last = false;
    bool warned = false;
    bool ran_out = false;
    double used = 0;
  };
  std::map<std::string, Watch, std::less<>> const& watches() const { return m_watches; }

  // This daemon created or reset sequence name, and the database answered its new generation:
  // numbers reserved before are thrown away at once (see BlockSource::invalidate).
  void sequence_changed(std::string const& name, std::int64_t generation);
  // This daemon dropped sequence name.
  void sequence_dropped(std::string const& name);

  // What the store reports (see StoreEvents; Core passes them on).
  void connection_free();
  void catalog_read();
  void notice(std::string const& name);
  void database_down(Error const& error);

 private:
  void admit(Request request);
  // Block mode is refused while change notices cannot be heard (Store::notices_problem), and
  // every mode while the store says no number may be taken (Store::safety_problem).
  void check_notices();
  // A request or a warm-up goes to the block source: the store hears it (Store::block_used), and
  // a refusal under way says what the store says from then on.
  void use_block();
  // Sequence name changed: nothing of it is served before a catalog read shows the change.
  void announce(std::string const& name);
  Source& source_for(std::string_view name);
  void arm_sweep();
  void sweep();
  void observed(std::string const& name, std::int64_t value, bool exhausted, std::int32_t period);

  CoreClock& m_clock;
  Store& m_store;
  AllocatorOptions m_options;
  std::unique_ptr<Source> m_strict;
  std::unique_ptr<BlockSource> m_block;
  std::deque<Request> m_waiting_for_catalog;
  // Sequences announced as changed, and the catalog read that shows it.
  std::map<std::string, std::uint64_t, std::less<>> m_announced;
  // Names a read of their own found missing, and when: asked for again within a second, they
  // are answered 404 without a read, unless a change of the name was announced meanwhile. At
  // most k_absent_max are kept.
  std::unordered_map<std::string, Clock::time_point> m_absent;
  void remember_absent(std::string const& name, Clock::time_point now);
  // Names answered 404 at once whose read has not ended yet (asked again, they are not read twice).
  std::unordered_set<std::string> m_looking_up;
  std::unique_ptr<CoreTimer> m_sweep;
  bool m_block_first = false;
  // The reasons block mode refuses for, as check_notices last read them from the store.
  std::optional<std::string> m_block_problem;
  std::optional<std::string> m_unsafe_problem;
  std::map<std::string, Watch, std::less<>> m_watches;
};

}  // namespace pez::daemon
