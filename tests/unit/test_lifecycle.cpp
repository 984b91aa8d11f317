// SPDX-License-Identifier: Apache-2.0
// pezd's lifecycle: starting, serving, draining, stopped, driven event by event as the daemon
// drives it from its listeners, signals, drain deadline and closing connections.
#include <doctest/doctest.h>

#include "daemon/lifecycle.hpp"

using pez::daemon::Lifecycle;
using Phase = Lifecycle::Phase;
using Action = Lifecycle::Action;

namespace {

Lifecycle::Outstanding outstanding(std::size_t connections, std::size_t requests = 0, std::size_t admin = 0) {
  return Lifecycle::Outstanding{connections, requests, admin};
}

}  // namespace

TEST_CASE("lifecycle: starting, then serving once the listeners are up") {
  Lifecycle life;
  CHECK(life.phase() == Phase::starting);
  CHECK_FALSE(life.draining());
  CHECK(life.http_address().empty());
  life.listening("127.0.0.1:8080");
  CHECK(life.phase() == Phase::serving);
  CHECK_FALSE(life.draining());
  CHECK(life.http_address() == "127.0.0.1:8080");
  // Only the first start counts.
  life.listening("elsewhere");
  CHECK(life.http_address() == "127.0.0.1:8080");
}

TEST_CASE("lifecycle: without HTTP the address stays empty") {
  Lifecycle life;
  life.listening("");
  CHECK(life.phase() == Phase::serving);
  CHECK(life.http_address().empty());
}

TEST_CASE("lifecycle: a stop signal drains; the last connection closing stops") {
  Lifecycle life;
  life.listening("127.0.0.1:8080");
  CHECK(life.stop_signal() == Action::drain);
  CHECK(life.phase() == Phase::draining);
  CHECK(life.draining());
  // Work left: connections, requests or admin commands each keep it draining.
  CHECK(life.settled(outstanding(2)) == Action::none);
  CHECK(life.settled(outstanding(0, 1)) == Action::none);
  CHECK(life.settled(outstanding(0, 0, 1)) == Action::none);
  CHECK(life.phase() == Phase::draining);
  CHECK(life.settled(outstanding(0)) == Action::finish);
  CHECK(life.phase() == Phase::stopped);
  CHECK(life.draining());
  // Once stopped, nothing more happens.
  CHECK(life.settled(outstanding(0)) == Action::none);
  CHECK(life.drain_deadline() == Action::none);
  CHECK(life.stop_signal() == Action::none);
  CHECK(life.reload_signal() == Action::none);
}

TEST_CASE("lifecycle: nothing settles before a stop signal") {
  Lifecycle life;
  life.listening("127.0.0.1:8080");
  CHECK(life.settled(outstanding(0)) == Action::none);
  CHECK(life.phase() == Phase::serving);
  CHECK(life.drain_deadline() == Action::none);
  CHECK(life.phase() == Phase::serving);
}

TEST_CASE("lifecycle: a second stop signal while draining closes everything now") {
  Lifecycle life;
  life.listening("127.0.0.1:8080");
  CHECK(life.stop_signal() == Action::drain);
  CHECK(life.stop_signal() == Action::close_now);
  CHECK(life.phase() == Phase::stopped);
  CHECK(life.stop_signal() == Action::none);
}

TEST_CASE("lifecycle: the drain deadline closes what is still open") {
  Lifecycle life;
  life.listening("127.0.0.1:8080");
  CHECK(life.stop_signal() == Action::drain);
  CHECK(life.settled(outstanding(3)) == Action::none);
  CHECK(life.drain_deadline() == Action::close_now);
  CHECK(life.phase() == Phase::stopped);
  // Connections closing afterwards change nothing.
  CHECK(life.settled(outstanding(0)) == Action::none);
}

TEST_CASE("lifecycle: reload while serving and while draining, and it stays where it was") {
  Lifecycle life;
  life.listening("127.0.0.1:8080");
  CHECK(life.reload_signal() == Action::reload);
  CHECK(life.phase() == Phase::serving);
  CHECK(life.stop_signal() == Action::drain);
  CHECK(life.reload_signal() == Action::reload);
  CHECK(life.phase() == Phase::draining);
}

TEST_CASE("lifecycle: a stop signal before serving drains what there is") {
  Lifecycle life;
  CHECK(life.stop_signal() == Action::drain);
  CHECK(life.phase() == Phase::draining);
  CHECK(life.settled(outstanding(0)) == Action::finish);
  // The listeners coming up late do not bring it back.
  life.listening("127.0.0.1:8080");
  CHECK(life.phase() == Phase::stopped);
}
