// SPDX-License-Identifier: Apache-2.0
#include "daemon/alloc/core.hpp"

#include <boost/asio/steady_timer.hpp>

namespace pez::daemon {

namespace {

class AsioTimer final : public CoreTimer {
 public:
  explicit AsioTimer(boost::asio::io_context& io) : m_timer(io) {}
  ~AsioTimer() override { cancel(); }

  void start(Clock::duration delay, std::function<void()> fn) override {
    ++m_epoch;
    m_armed = true;
    m_timer.expires_after(delay);
    // The epoch tells a wait that was cancelled, or replaced by a later start, from the current one.
    m_timer.async_wait([this, epoch = m_epoch, fn = std::move(fn)](boost::system::error_code ec) {
      if (ec || epoch != m_epoch) return;
      m_armed = false;
      fn();
    });
  }
  void cancel() override {
    ++m_epoch;
    m_armed = false;
    m_timer.cancel();
  }
  bool armed() const override { return m_armed; }

 private:
  boost::asio::steady_timer m_timer;
  std::uint64_t m_epoch = 0;
  bool m_armed = false;
};

}  // namespace

std::unique_ptr<CoreTimer> AsioClock::timer() { return std::make_unique<AsioTimer>(m_io); }

Core::Core(CoreClock& clock, Store& store, Metrics& metrics, AllocatorOptions options)
    : m_store(store),
      m_allocator(clock, store, metrics, options),
      m_admin(clock, store, m_allocator, options.admin_timeout, options.mode == Mode::block) {
  m_store.set_events(this);
}

Core::~Core() { m_store.set_events(nullptr); }

void Core::store_available() {
  m_admin.pump();
  m_allocator.connection_free();
}

void Core::store_catalog() { m_allocator.catalog_read(); }

void Core::store_notice(std::string const& name) { m_allocator.notice(name); }

void Core::store_down(std::string const& why) { m_allocator.database_down(unavailable_error(why)); }

}  // namespace pez::daemon
