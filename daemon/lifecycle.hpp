// SPDX-License-Identifier: Apache-2.0
// The life of pezd as a state machine: starting, serving, draining, stopped. Each event (the
// listeners are up, a stop or reload signal, the drain deadline, all work done) moves it on and
// says what the daemon is to do; nothing here does I/O, so a test can drive every transition.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pez::daemon {

class Lifecycle {
 public:
  enum class Phase : std::uint8_t {
    starting,  // settings read, listeners opening; no signal handled yet
    serving,   // listening and answering
    draining,  // listeners closed, answering what was asked, taking nothing new
    stopped,   // the event loops are told to stop
  };

  // What the daemon does on a transition.
  enum class Action : std::uint8_t {
    none,
    drain,      // close the listeners, drain every session, tell systemd STOPPING=1, arm the deadline
    reload,     // read the settings again (the log level)
    finish,     // every connection closed and every request answered: stop the event loops
    close_now,  // close every connection that is left and stop the event loops
  };

  // What is still to be answered while draining.
  struct Outstanding {
    std::size_t connections = 0;
    std::size_t requests = 0;
    std::size_t admin_commands = 0;
    bool none() const { return connections == 0 && requests == 0 && admin_commands == 0; }
  };

  // Any thread.
  Phase phase() const { return m_phase.load(); }
  // Taking no new work: draining or stopped.
  bool draining() const { return phase() >= Phase::draining; }

  // The rest on the core thread only.
  // The listeners are up: starting to serving. http_address is where HTTP is served (empty
  // when it is off).
  void listening(std::string http_address);
  std::string const& http_address() const { return m_http_address; }

  // SIGTERM or SIGINT: the first drains, a second closes everything at once.
  Action stop_signal();
  // SIGHUP: reloads until pezd has stopped (draining included, as the log level still matters).
  Action reload_signal() const;
  // Asked whenever work may have ended while draining (the last connection closed, or draining
  // just began): stopped once nothing is outstanding.
  Action settled(Outstanding outstanding);
  // The drain period ran out with connections still open.
  Action drain_deadline();

 private:
  // Sequentially consistent, as the count of open connections is: the last connection to close
  // on another thread and the start of draining each see the other.
  void enter(Phase next) { m_phase.store(next); }

  std::atomic<Phase> m_phase{Phase::starting};
  std::string m_http_address;
};

}  // namespace pez::daemon
