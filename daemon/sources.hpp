// The two ways of taking numbers behind the Allocator (see allocator.hpp).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/allocator.hpp"
#include "daemon/catalog.hpp"
#include "daemon/pg_connection.hpp"

namespace pez::daemon {

// The answer for a failed statement on sequence name (not found, run out, or internal).
Error sequence_error(std::string const& name, DbError const& error);

// What a source needs from the daemon.
struct SourceContext {
  Database& db;
  Metrics& metrics;
  std::chrono::milliseconds timeout;
  std::function<void()> wake;  // a request now waits: keep the deadline sweep running
  // The database handed out value of sequence name (for the wrap warning); exhausted: the
  // sequence does not cycle and has run out.
  std::function<void(std::string const& name, std::int64_t value, bool exhausted)> observed;
};

// Strict mode (DESIGN §1): every number is taken from the database after its request arrived
// and answered only after the database committed. Requests for the same sequence that wait at
// the same time share one statement; each still gets its own numbers, in arrival order.
class StrictSource final : public Source {
 public:
  explicit StrictSource(SourceContext ctx) : m_ctx(std::move(ctx)) {}
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
    std::shared_ptr<PgConnection> conn;
  };
  void run(std::shared_ptr<Batch> const& batch);
  void finish(std::shared_ptr<Batch> const& batch, std::expected<PgResults, DbError> result);
  void requeue(Batch& batch);

  SourceContext m_ctx;
  std::deque<Request> m_queue;
  std::vector<std::shared_ptr<Batch>> m_in_flight;
  std::vector<std::int64_t> m_numbers;
};

// Block mode (DESIGN §1): blocks of numbers are reserved ahead and served from memory, the next
// block fetched while the current one still lasts. A block is sized to last about
// BlockOptions::duration at the rate the sequence is being used. While the database is away,
// requests are served from what is reserved.
class BlockSource final : public Source {
 public:
  BlockSource(SourceContext ctx, BlockOptions options) : m_ctx(std::move(ctx)), m_options(options) {}
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
  bool try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out, bool& refill);
  void refill(std::string const& name);
  // Numbers of name are in memory, or it has run out; otherwise a first block is asked for.
  bool warm_up(std::string const& name);

  // Sequence name was created or reset at generation (0: it was dropped): numbers reserved
  // before that are thrown away, so none from before the change is handed out after this.
  void invalidate(std::string const& name, std::int64_t generation);
  // The catalog was read: the same for every sequence, and reserves of vanished ones go.
  void sync(Catalog const& catalog);

 private:
  // first, first + step, ... last
  struct Range {
    std::int64_t next;
    std::int64_t last;
    std::int64_t step;
    std::int64_t generation;
  };
  struct Reserve {
    std::string name;
    std::deque<Range> ranges;
    std::uint64_t available = 0;
    std::deque<Request> waiters;
    bool fetching = false;   // a reserve statement is running
    bool queued = false;     // waiting for a free connection
    std::uint64_t last_block = 0;
    double rate = 0;  // numbers per second, smoothed
    std::uint64_t served_since = 0;
    Clock::time_point measured_at = Clock::now();
    std::optional<Error> run_out;  // the sequence does not cycle and has no numbers left
    std::int64_t generation = 0;    // ranges of older generations are stale
  };
  // An answer decided under the lock and given after it is released (handlers may take time or
  // call back in).
  struct Delivery {
    Request request;
    std::vector<std::int64_t> numbers;
    std::optional<Error> error;
  };
  using Deliveries = std::vector<Delivery>;

  Reserve& reserve(std::string const& name);
  static bool can_take(Reserve const& r, std::uint32_t count);
  void take_numbers(Reserve& r, std::uint32_t count, std::vector<std::int64_t>& out);
  void serve_waiters(Reserve& r, Deliveries& out);
  bool low(Reserve const& r) const;
  void want_block(Reserve& r);
  void pump_locked();
  std::uint64_t next_block_size(Reserve& r);
  void fetch(Reserve& r, std::shared_ptr<PgConnection> conn);
  void fetched(std::string const& name, std::uint64_t asked, std::shared_ptr<PgConnection> const& conn,
               std::expected<PgResults, DbError> result);
  static void fail_waiters(Reserve& r, Error const& error, Deliveries& out);
  // Drops ranges older than generation; true if the reserve was erased (dropped sequence).
  bool invalidate_locked(std::map<std::string, Reserve, std::less<>>::iterator it, std::int64_t generation,
                         Deliveries& out);
  static void deliver(Deliveries& out);

  SourceContext m_ctx;
  BlockOptions m_options;
  mutable std::mutex m_lock;  // guards everything below: worker threads take numbers too
  std::map<std::string, Reserve, std::less<>> m_reserves;
  std::deque<std::string> m_fetch_queue;
};

}  // namespace pez::daemon
