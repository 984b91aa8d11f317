// What the listeners and their sessions share: settings, the allocator, the database state,
// metrics, and the set of open client connections (to drain them on SIGTERM).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "daemon/router.hpp"

namespace pez::daemon {

struct Config;
class Allocator;
class Database;
class Metrics;

class Session {
 public:
  virtual ~Session() = default;
  // Answer what has been asked, take nothing new, then close.
  virtual void drain() = 0;
  // Close now.
  virtual void close() = 0;
};

class Sessions {
 public:
  std::uint64_t add(std::weak_ptr<Session> session);
  void remove(std::uint64_t id);
  std::size_t size() const { return m_sessions.size(); }
  void drain_all();
  void close_all();
  std::function<void()> on_empty;

 private:
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> m_sessions;
  std::uint64_t m_next = 1;
};

struct Context {
  using Clock = std::chrono::steady_clock;

  Context(Config const& c, Allocator& a, Database& d, Metrics& m) : config(c), allocator(a), db(d), metrics(m) {}

  Config const& config;
  Allocator& allocator;
  Database& db;
  Metrics& metrics;
  Clock::time_point started = Clock::now();
  bool draining = false;
  Sessions sessions;

  // Can numbers be handed out now?
  bool ready() const;
  std::string not_ready_reason() const;
  Reply ops_page(OpsPage page) const;
  // One line of JSON describing the daemon (socket STATUS, pez status).
  std::string status_json() const;
};

}  // namespace pez::daemon
