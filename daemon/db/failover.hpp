// SPDX-License-Identifier: Apache-2.0
// Whether a failover can lose numbers already handed out: what a commit that took numbers waits
// for, read from the primary at every connection and every second (Database), for the log,
// /metrics, pez status and require_synchronous_standby.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pez::daemon {

// One row: in recovery, synchronous_commit, synchronous_standby_names, then the standbys that
// stream from the server (pg_stat_replication without base backups and logical decoding): all of
// them, those in sync or quorum state, and those whose state the role may not see (it needs
// pg_monitor, or pg_read_all_stats).
inline constexpr char const k_failover_sql[] =
    "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('synchronous_commit'),"
    " pg_catalog.current_setting('synchronous_standby_names'), s.standbys, s.sync, s.hidden"
    " FROM (SELECT count(*) AS standbys, count(*) FILTER (WHERE r.sync_state IN ('sync', 'quorum')) AS sync,"
    "   count(*) FILTER (WHERE r.sync_state IS NULL) AS hidden"
    "   FROM pg_catalog.pg_stat_replication r WHERE coalesce(r.state, '') <> 'backup'"
    "   AND r.pid NOT IN (SELECT l.active_pid FROM pg_catalog.pg_replication_slots l"
    "     WHERE l.slot_type = 'logical' AND l.active_pid IS NOT NULL)) s";

struct FailoverSafety {
  enum class Kind {
    synchronous,   // commits wait for a synchronous standby: a failover to it loses nothing
    asynchronous,  // standbys, none synchronous: a failover can lose acknowledged commits
    alone,         // no standby and none configured
  };
  std::string server;              // where it was read, for the log
  std::string role;                // pezd's role there, for the grant it may need
  std::string synchronous_commit;  // in force for the transactions that take numbers
  std::string standby_names;       // synchronous_standby_names
  std::int64_t standbys = 0;
  std::int64_t sync_standbys = 0;
  std::int64_t hidden = 0;  // standbys whose state the role may not see

  Kind kind() const;
  bool safe() const { return kind() == Kind::synchronous; }
  // How many synchronous standbys a commit waits for: num_sync of synchronous_standby_names
  // ("FIRST 2 (a, b, c)", "ANY 2 (...)", "2 (...)"), 1 for a plain list.
  std::int64_t required_sync() const;
  // Commits wait for more synchronous standbys than stream (a standby stopped, or
  // synchronous_standby_names names none that is there, as Patroni's strict mode sets '*' without
  // a standby): every commit that takes numbers waits until enough do. Not known while the
  // standbys' state is hidden from the role.
  bool stalled() const { return safe() && hidden == 0 && sync_standbys < required_sync(); }
  // One line: the verdict and what it rests on.
  std::string text() const;
  // Why a daemon that requires a synchronous standby refuses, or nothing.
  std::optional<std::string> refusal() const;
};

// synchronous_commit in force for a transaction that takes numbers, given the session's:
// pez.durable() (sql/006) raises anything below on to on.
std::string taking_synchronous_commit(std::string_view session);

}  // namespace pez::daemon
