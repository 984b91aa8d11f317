// SPDX-License-Identifier: Apache-2.0
// What the listeners and their sessions share. pezd runs one event loop per thread (setting
// threads); the first, the core, owns the database, the allocator and the Unix socket. Shared
// holds what every thread sees; each thread has a Context with its own metrics and sessions.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/errors.hpp"
#include "common/names.hpp"
#include "daemon/admin/admin.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/api/router.hpp"
#include "daemon/lifecycle.hpp"

namespace pez::daemon {

struct Config;
class Database;
class Metrics;
class OperatorPages;
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
  // Nodes of the lists above no longer in use, kept for the next session to become idle (one
  // does at every request: no allocation for it).
  IdleList m_idle_spare;
  std::uint64_t m_next = 1;
};

// What every thread's sessions reach, all of it given at construction: the settings, the
// allocation core, the database, the core thread's executor and the daemon's lifecycle, with the
// count of open client connections.
struct Shared {
  Shared(Config const& c, Allocator& a, Admin& ad, Database& d, boost::asio::any_io_executor core_executor,
         Lifecycle const& life, std::size_t connection_limit, std::function<void()> all_closed)
      : config(c),
        allocator(a),
        admin(ad),
        db(d),
        core(std::move(core_executor)),
        lifecycle(life),
        max_connections(connection_limit),
        on_all_closed(std::move(all_closed)) {}

  Config const& config;
  Allocator& allocator;
  Admin& admin;
  Database& db;
  boost::asio::any_io_executor const core;
  Lifecycle const& lifecycle;
  std::size_t const max_connections;          // the setting, or less when the open-file limit is lower
  std::function<void()> const on_all_closed;  // while draining, once no connection is left; on the core thread
  std::atomic<std::size_t> open_sessions{0};

  // Any thread: taking no new work.
  bool draining() const { return lifecycle.draining(); }
  // On the core thread only: an error answer as clients get it: unavailable becomes
  // misconfigured while pezd's database settings are what keeps the database away, so that
  // retrying is known not to help.
  Error classified(Error error) const;
};

// What an error says when pezd's database settings keep the database away (why: the database's
// own words).
std::string misconfigured_text(std::string const& why);

class Context {
 public:
  Context(Shared& s, OperatorPages const& p, boost::asio::any_io_executor own, Metrics& m, bool is_core)
      : shared(s), pages(p), config(s.config), metrics(m), sessions(s), executor(std::move(own)), core(is_core) {}

  Shared& shared;
  OperatorPages const& pages;  // read on the core thread only
  Config const& config;
  Metrics& metrics;
  Sessions sessions;
  boost::asio::any_io_executor executor;
  bool const core;
  // HTTP connections given to this thread and not yet gone: counted by the listener when it
  // gives one, on the core thread, and by the session when it ends, on this one (which holds
  // the count too: a session may end after its Context, as its event loop is torn down).
  std::shared_ptr<std::atomic<std::size_t>> const http_open = std::make_shared<std::atomic<std::size_t>>(0);

  bool draining() const { return shared.draining(); }

  // Numbers for a session of this thread; handler runs on this thread. In block mode numbers
  // already in memory are taken here; everything else is done by the core thread. Takes of one
  // name asked for here get numbers in the order they were asked for (a connection's pipelined
  // requests follow one another): while one waits, the next wait behind it.
  void allocate(std::string_view name, std::uint32_t count, AllocateHandler handler);
  // An admin command (the caller checked that the peer may); done runs on this thread.
  void admin(AdminCommand command, AdminHandler done);
  // An operations page (it reads the core thread's state); done runs on this thread.
  void ops_page(OpsPage page, std::move_only_function<void(Reply)> done);
  // One line of JSON describing the daemon (socket STATUS, pez status); on the core thread.
  std::string status_json() const;

 private:
  // On this thread: a request that did not take from the reserve here is answered (key: the
  // name of a take, empty for a look-up).
  void answered(std::string const& key);

  // Takes asked for on this thread that did not take from the reserve here and are not yet
  // answered, by name.
  NameMap<std::uint32_t> m_unanswered;
};

}  // namespace pez::daemon
