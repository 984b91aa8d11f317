// Where numbers come from. A request names a sequence and a count and is answered once, with
// numbers that no other request ever gets, or with an error.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "daemon/pg_connection.hpp"

namespace pez::daemon {

class Database;
class Metrics;

using Numbers = std::vector<std::int64_t>;
using AllocateHandler = std::move_only_function<void(std::expected<Numbers, Error>)>;

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Answers handler exactly once, possibly before returning. A count of 0 only checks that the
  // sequence exists (HEAD requests take no numbers).
  virtual void allocate(std::string_view name, std::uint32_t count, AllocateHandler handler) = 0;
  // Requests not answered yet.
  virtual std::size_t pending() const = 0;
};

// Strict mode (DESIGN §1): every number is taken from the database after its request arrived
// and is answered only after the database committed. Requests for the same sequence that wait
// at the same time share one statement; each still gets its own numbers, in arrival order.
class StrictAllocator final : public Allocator {
 public:
  using Clock = std::chrono::steady_clock;

  StrictAllocator(boost::asio::io_context& io, Database& db, Metrics& metrics, std::chrono::milliseconds timeout);
  void allocate(std::string_view name, std::uint32_t count, AllocateHandler handler) override;
  std::size_t pending() const override;

 private:
  struct Request {
    std::string name;
    std::uint32_t count;
    Clock::time_point deadline;
    AllocateHandler handler;
  };
  struct Batch {
    std::string name;
    std::uint32_t total = 0;
    std::vector<Request> requests;
    std::shared_ptr<PgConnection> conn;
  };

  void admit(Request request);
  void pump();
  void run(std::shared_ptr<Batch> const& batch);
  void finish(std::shared_ptr<Batch> const& batch, std::expected<PgResults, DbError> result);
  void requeue(Batch& batch);
  void answer_all(Batch& batch, Error const& error);
  void fail_waiting(Error const& error);
  void catalog_changed();
  void arm_sweep();
  void sweep();

  boost::asio::io_context& m_io;
  Database& m_db;
  Metrics& m_metrics;
  std::chrono::milliseconds m_timeout;
  std::deque<Request> m_queue;
  std::deque<Request> m_waiting_for_catalog;
  std::vector<std::shared_ptr<Batch>> m_in_flight;
  boost::asio::steady_timer m_sweep;
  bool m_sweep_armed = false;
};

}  // namespace pez::daemon
