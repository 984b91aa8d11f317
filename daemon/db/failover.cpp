// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/failover.hpp"

#include "common/text.hpp"

namespace pez::daemon {

std::string taking_synchronous_commit(std::string_view session) {
  if (session == "on" || session == "remote_apply") return std::string(session);
  return "on";
}

FailoverSafety::Kind FailoverSafety::kind() const {
  // remote_write waits for the standby too, only not for its flush; pez.durable() never leaves it.
  bool const waits =
      synchronous_commit == "on" || synchronous_commit == "remote_apply" || synchronous_commit == "remote_write";
  if (waits && !trim(standby_names).empty()) return Kind::synchronous;
  return standbys > 0 ? Kind::asynchronous : Kind::alone;
}

std::string FailoverSafety::text() const {
  std::string standby_text = std::to_string(standbys) + (standbys == 1 ? " standby" : " standbys");
  if (hidden > 0) {
    standby_text += ", the state of " + std::to_string(hidden) + " hidden from role " + role +
                    " (GRANT pg_monitor TO " + role + " shows it)";
  } else if (standbys > 0) {
    standby_text += ", " + std::to_string(sync_standbys) + " synchronous";
  }
  switch (kind()) {
    case Kind::synchronous:
      return "safe: commits wait for a synchronous standby (synchronous_standby_names '" + standby_names +
             "', synchronous_commit " + synchronous_commit + "; " + standby_text + ")" +
             (waits_for_none() ? ", but none streams now: every commit that takes numbers waits until one does "
                                 "(start the standby, or change synchronous_standby_names)"
                               : "");
    case Kind::asynchronous:
      return "NOT SAFE: asynchronous standbys only (" + standby_text +
             "; synchronous_standby_names is empty): a failover can lose numbers already handed out, which "
             "then come again";
    case Kind::alone:
      break;
  }
  return "no standby (synchronous_standby_names is empty): nothing to fail over to; a standby added later must be "
         "synchronous for a failover to lose nothing";
}

std::optional<std::string> FailoverSafety::refusal() const {
  if (safe()) return std::nullopt;
  return "require_synchronous_standby is on and the primary at " + server +
         " has no synchronous standby configured (synchronous_standby_names is empty; " + std::to_string(standbys) +
         (standbys == 1 ? " standby" : " standbys") + ")";
}

}  // namespace pez::daemon
