// SPDX-License-Identifier: Apache-2.0
#include "daemon/lifecycle.hpp"

#include <utility>

namespace pez::daemon {

void Lifecycle::listening(std::string http_address) {
  if (phase() != Phase::starting) return;
  m_http_address = std::move(http_address);
  enter(Phase::serving);
}

Lifecycle::Action Lifecycle::stop_signal() {
  switch (phase()) {
    case Phase::starting:
    case Phase::serving:
      enter(Phase::draining);
      return Action::drain;
    case Phase::draining:
      enter(Phase::stopped);
      return Action::close_now;
    case Phase::stopped:
      break;
  }
  return Action::none;
}

Lifecycle::Action Lifecycle::reload_signal() const { return phase() == Phase::stopped ? Action::none : Action::reload; }

Lifecycle::Action Lifecycle::settled(Outstanding outstanding) {
  if (phase() != Phase::draining || !outstanding.none()) return Action::none;
  enter(Phase::stopped);
  return Action::finish;
}

Lifecycle::Action Lifecycle::drain_deadline() {
  if (phase() != Phase::draining) return Action::none;
  enter(Phase::stopped);
  return Action::close_now;
}

}  // namespace pez::daemon
