// SPDX-License-Identifier: Apache-2.0
// The allocation core of one pezd: the Allocator and Admin on one Store and one clock, and the
// store's events passed on to them. pezd builds it on the Database and the event loop's clock
// (run_daemon); the simulation (tests/sim/) builds several on its fake and its own clock.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "daemon/admin/admin.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/alloc/store.hpp"

namespace pez::daemon {

class Metrics;

class Core final : public StoreEvents {
 public:
  Core(CoreClock& clock, Store& store, Metrics& metrics, AllocatorOptions options);
  ~Core() override;
  Core(Core const&) = delete;
  Core& operator=(Core const&) = delete;

  Allocator& allocator() { return m_allocator; }
  Admin& admin() { return m_admin; }

  void store_available() override;
  void store_catalog() override;
  void store_notice(std::string const& name) override;
  void store_down(std::string const& why) override;

 private:
  Store& m_store;
  Allocator m_allocator;
  Admin m_admin;
};

// The clock of an Asio event loop: steady_clock and steady_timer.
class AsioClock final : public CoreClock {
 public:
  explicit AsioClock(boost::asio::io_context& io) : m_io(io) {}
  Clock::time_point now() const override { return Clock::now(); }
  WallClock::time_point wall_now() const override { return WallClock::now(); }
  std::unique_ptr<CoreTimer> timer() override;

 private:
  boost::asio::io_context& m_io;
};

}  // namespace pez::daemon
