// SPDX-License-Identifier: Apache-2.0
// What the listeners and their sessions share. pezd runs one event loop per thread (setting
// threads); the first, the core, owns the database, the allocator and the Unix socket. Shared
// holds what every thread sees; each thread has a Context with its own metrics and sessions.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/errors.hpp"
#include "daemon/admin.hpp"
#include "daemon/allocator.hpp"
#include "daemon/router.hpp"

namespace pez::daemon {

struct Config;
class Database;
class Metrics;
struct Shared;

class Session;
using IdleList = std::list<std::weak_ptr<Session>>;

class Session {
 public:
  virtual ~Session() = default;
  // Answer what has been asked, take nothing new, then close.
  virtual void drain() = 0;
  // Close now.
  virtual void close() = 0;
  bool idle() const { return m_idle_list != nullptr; }

 protected:
  // The connection has sent a request: a client, not (only) an open socket.
  bool m_used = false;

 private:
  friend class Sessions;
  // The idle list of its thread this session is on (null when it is not idle), and where.
  IdleList* m_idle_list = nullptr;
  IdleList::iterator m_idle_at;
};

// The open client connections of one thread, and which of them are idle (waiting for a request,
// with nothing to answer): those that never sent a request and those that did, each longest idle
// first.
class Sessions {
 public:
  explicit Sessions(Shared& shared) : m_shared(shared) {}
  std::uint64_t add(std::weak_ptr<Session> session);
  void remove(std::uint64_t id);
  std::size_t size() const { return m_sessions.size(); }
  void drain_all();
  void close_all();

  // Puts a session on its idle list (at the end) or takes it off.
  void set_idle(Session& session, std::weak_ptr<Session> weak, bool idle);
  // Whether a session just added may stay (setting max_connections): yes below the limit
  // (free), or once an idle session of this thread was closed to make room (made: of those that
  // never sent a request the one idle the longest, else of the others); no when none is idle.
  enum class Room { free, made, none };
  Room make_room();

 private:
  Shared& m_shared;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> m_sessions;
  IdleList m_idle_unused;
  IdleList m_idle_used;
  std::uint64_t m_next = 1;
};

struct Shared {
  using Clock = std::chrono::steady_clock;

  Shared(Config const& c, Allocator& a, Database& d, boost::asio::any_io_executor core_executor)
      : config(c), allocator(a), db(d), core(std::move(core_executor)) {}

  Config const& config;
  Allocator& allocator;
  Database& db;
  Admin* admin = nullptr;
  boost::asio::any_io_executor core;
  Clock::time_point started = Clock::now();
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> open_sessions{0};
  std::size_t max_connections = 0;      // the setting, or less when the open-file limit is lower
  std::string http_address;             // where the HTTP listener listens; empty when off
  std::vector<Metrics const*> metrics;  // every thread's, filled before the threads start
  std::function<void()> on_all_closed;  // runs on the core thread

  // On the core thread only:
  bool ready() const;
  // Why pezd cannot hand out numbers now (empty when it can): the kind (unavailable, or
  // misconfigured while its database settings keep the database away) and a sentence with
  // libpq's text, for the log and the socket.
  Error not_ready_error() const;
  std::string not_ready_reason() const { return not_ready_error().message; }
  // The same without libpq's text (socket paths, role names), for HTTP: /readyz.
  std::string not_ready_public_reason() const;
  // An error answer as clients get it: unavailable becomes misconfigured while pezd's database
  // settings are what keeps the database away, so that retrying is known not to help.
  Error classified(Error error) const;
  Reply ops_page(OpsPage page) const;
  // One line of JSON describing the daemon (socket STATUS, pez status).
  std::string status_json() const;
};

class Context {
 public:
  Context(Shared& s, boost::asio::any_io_executor own, Metrics& m, bool is_core)
      : shared(s), config(s.config), metrics(m), sessions(s), executor(std::move(own)), core(is_core) {}

  Shared& shared;
  Config const& config;
  Metrics& metrics;
  Sessions sessions;
  boost::asio::any_io_executor executor;
  bool const core;

  bool draining() const { return shared.draining.load(std::memory_order_relaxed); }

  // Numbers for a session of this thread; handler runs on this thread. In block mode numbers
  // already in memory are taken here; everything else is done by the core thread.
  void allocate(std::string_view name, std::uint32_t count, AllocateHandler handler);
  // An admin command (the caller checked that the peer may); done runs on this thread.
  void admin(AdminCommand command, AdminHandler done);
  // An operations page (it reads the core thread's state); done runs on this thread.
  void ops_page(OpsPage page, std::move_only_function<void(Reply)> done);
};

}  // namespace pez::daemon
