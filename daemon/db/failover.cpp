// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/failover.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/text.hpp"

namespace pez::daemon {

std::string taking_synchronous_commit(std::string_view session) {
  if (session == "on" || session == "remote_apply") return std::string(session);
  return "on";
}

std::int64_t FailoverSafety::required_sync() const {
  // [FIRST | ANY] num_sync ( standby_name [, ...] ), or standby_name [, ...] (num_sync 1).
  std::string_view rest = trim(standby_names);
  auto const space = rest.find_first_of(" \t\n");
  auto const keyword = [first = rest.substr(0, space)](std::string_view word) {
    return std::ranges::equal(first, word,
                              [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  };
  if (space != std::string_view::npos && (keyword("first") || keyword("any"))) rest = trim(rest.substr(space));
  std::int64_t n = 0;
  auto const [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (ec != std::errc{} || n < 1 || !trim(rest.substr(static_cast<std::size_t>(end - rest.data()))).starts_with('('))
    return 1;
  return n;
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
    case Kind::synchronous: {
      std::string text = "safe: commits wait for a synchronous standby (synchronous_standby_names '" + standby_names +
                         "', synchronous_commit " + synchronous_commit + "; " + standby_text + ")";
      if (!stalled()) return text;
      auto const required = required_sync();
      if (sync_standbys == 0 && required == 1) {
        return text +
               ", but none streams now: every commit that takes numbers waits until one does (start the "
               "standby, or change synchronous_standby_names)";
      }
      return text + ", but they wait for " + std::to_string(required) + " and " + std::to_string(sync_standbys) +
             (sync_standbys == 1 ? " streams" : " stream") +
             " now: every commit that takes numbers waits until enough do (start the standbys, or change "
             "synchronous_standby_names)";
    }
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
