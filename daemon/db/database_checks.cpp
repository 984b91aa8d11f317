// SPDX-License-Identifier: Apache-2.0
// The statements Database runs by itself on a free connection, besides setting connections up:
// whether a failover is safe (every second, failover.hpp) and where every sequence stands (every
// usage_interval, usage.hpp).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "common/count.hpp"
#include "common/settings.hpp"
#include "daemon/db/database.hpp"
#include "daemon/db/database_slot.hpp"
#include "daemon/db/db_answers.hpp"
#include "daemon/ops/log_throttle.hpp"

namespace pez::daemon {

namespace {

constexpr auto k_failover_every = std::chrono::seconds(1);

// A usage round (sql/016_shared_usage.sql): claim it; read the positions a page at a time when
// this daemon is to read them for every daemon of its role, else read what one of them stored.
// pez.usage_refresh answers this many sequences a statement: each it reads stays locked until the
// statement ends (sql/008_usage.sql).
constexpr int k_usage_page = 500;
constexpr char const k_usage_claim_sql[] = "SELECT pez.usage_claim($1::interval, $2::text)";
// The columns usage_answer reads, of either function.
constexpr char const k_usage_columns[] =
    "SELECT name, identity, generation, increment, min_value, max_value, start_value, cycle, last_value, is_called,"
    " period, read_at FROM ";
std::string const k_usage_refresh_sql =
    std::string(k_usage_columns) + "pez.usage_refresh($1::bigint, $2::text, $3::integer)";
std::string const k_usage_stored_sql = std::string(k_usage_columns) + "pez.usage_stored()";
constexpr char const k_usage_finish_sql[] = "SELECT pez.usage_finish($1::bigint)";

// The GRANT that lets role call the function of a usage round that a "permission denied for
// function NAME" names (every role may call them unless the owner revoked that). The name is
// found as a word of the message, which the server writes in its own language ("нет доступа к
// функции usage_claim").
std::string usage_grant(std::string_view message, std::string const& role) {
  static constexpr std::pair<std::string_view, std::string_view> k_functions[] = {
      {"usage_claim", "pez.usage_claim(interval, text)"},
      {"usage_refresh", "pez.usage_refresh(bigint, text, integer)"},
      {"usage_store", "pez.usage_store(bigint, bigint, pez.usage_position[])"},
      {"usage_finish", "pez.usage_finish(bigint)"},
      {"usage_stored", "pez.usage_stored()"},
  };
  std::string_view function = "pez.usage(text, integer)";
  auto const in_name = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  for (std::size_t at = 0; at < message.size();) {
    if (!in_name(message[at])) {
      ++at;
      continue;
    }
    auto end = at;
    while (end < message.size() && in_name(message[end])) ++end;
    auto const word = message.substr(at, end - at);
    for (auto const& [name, signature] : k_functions) {
      if (word == name) function = signature;
    }
    at = end;
  }
  return "GRANT EXECUTE ON FUNCTION " + std::string(function) + " TO " + role;
}

}  // namespace

std::string Database::usage_daemon_name() {
  // The process and a random part: another pezd of the same pid (another host, a restart) is
  // another daemon.
  std::random_device random;
  std::uniform_int_distribution<std::uint64_t> any;
  return std::to_string(::getpid()) + "-" + std::to_string(any(random));
}

void Database::check_failover(Slot& slot, std::shared_ptr<PgConnection> const& conn, bool setting_up,
                              std::function<void()> next) {
  conn->exec(k_failover_sql, m_options.statement_timeout,
             [this, &slot, conn, setting_up, next = std::move(next)](std::expected<PgResults, DbError> result) {
               if (slot.conn != conn || m_stopped) return;
               auto fail = [&](std::string const& message) {
                 if (setting_up) {
                   setup_failed(slot, conn, message);
                 } else {
                   lost(slot, message);
                 }
               };
               if (!result) {
                 if (setting_up || !result.error().answered()) {
                   fail(result.error().message);
                   return;
                 }
                 // Nothing known now: not safe, and the next check tries again.
                 thread_local LogThrottle log;
                 if (log.allow()) {
                   spdlog::warn("cannot read whether a failover is safe: {}{}", result.error().message,
                                log.left_out_text());
                 }
                 m_failover.reset();
                 next();
                 return;
               }
               if (value(*result, 0, 0, 0) == "t") {
                 fail("the server at " + conn->server() + " is in recovery now (a standby): a failover or a demotion");
                 return;
               }
               FailoverSafety safety;
               safety.server = conn->server();
               safety.role = conn->user();
               safety.synchronous_commit = taking_synchronous_commit(value(*result, 0, 0, 1));
               safety.standby_names = value(*result, 0, 0, 2);
               safety.standbys = parse_int64(value(*result, 0, 0, 3)).value_or(0);
               safety.sync_standbys = parse_int64(value(*result, 0, 0, 4)).value_or(0);
               safety.hidden = parse_int64(value(*result, 0, 0, 5)).value_or(0);
               failover_read(std::move(safety));
               next();
             });
}

void Database::failover_read(FailoverSafety safety) {
  auto const kind = safety.kind();
  bool const stalled = safety.stalled();
  // Logged when the verdict changes, and when commits start or stop waiting for a standby that
  // is not there.
  bool const kind_changed = m_failover_logged != kind;
  bool const stalled_changed = m_failover_stalled_logged != stalled;
  m_failover_logged = kind;
  m_failover_stalled_logged = stalled;
  if (kind_changed && kind == FailoverSafety::Kind::asynchronous) {
    spdlog::warn(
        "failover: the primary at {} is {}; configure a synchronous standby (Patroni: synchronous_mode: "
        "true), or see pezd(8) on what to do after promoting an asynchronous one",
        safety.server, safety.text());
  } else if (stalled && (kind_changed || stalled_changed)) {
    spdlog::warn("failover: the primary at {}: {}", safety.server, safety.text());
  } else if (kind_changed || stalled_changed) {
    spdlog::info("failover: the primary at {}: {}", safety.server, safety.text());
  }
  m_failover = std::move(safety);
}

void Database::run_failover_check(Slot& slot) {
  m_failover_due = false;
  slot.state = Slot::State::leased;
  auto conn = slot.conn;
  check_failover(slot, conn, false, [this, &slot, conn] { release(slot, conn); });
}

void Database::release(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  if (slot.conn != conn || slot.state != Slot::State::leased) return;
  slot.state = Slot::State::idle;
  became_free(slot);
}

void Database::arm_failover_check() {
  m_failover_timer.expires_after(k_failover_every);
  m_failover_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || m_stopped) return;
    m_failover_due = true;
    for (auto& slot : m_slots) {
      if (!slot->listener && slot->state == Slot::State::idle) {
        run_failover_check(*slot);
        break;
      }
    }
    arm_failover_check();
  });
}

void Database::arm_usage_read() {
  if (m_options.usage_interval.count() <= 0) return;
  m_usage_timer.expires_after(m_options.usage_interval);
  m_usage_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || m_stopped) return;
    // A round that outlasts the interval is not joined by another: the next tick starts one.
    if (m_usage_reads == 0) {
      m_usage_due = true;
      for (auto& slot : m_slots) {
        if (!slot->listener && slot->state == Slot::State::idle) {
          run_usage_read(*slot);
          break;
        }
      }
    }
    arm_usage_read();
  });
}

void Database::run_usage_read(Slot& slot) {
  m_usage_due = false;
  ++m_usage_reads;
  slot.state = Slot::State::leased;
  auto conn = slot.conn;
  std::string const every = std::to_string(m_options.usage_interval.count()) + " milliseconds";
  char const* params[] = {every.c_str(), m_usage_daemon.c_str()};
  conn->exec_params(k_usage_claim_sql, params, m_options.statement_timeout,
                    [this, &slot, conn](std::expected<PgResults, DbError> result) {
                      if (!usage_answered(slot, conn, result)) return;
                      auto const round = m_usage.begin_round();
                      auto const shared = value(*result, 0, 0, 0);
                      if (shared.empty()) {
                        read_stored_usage(slot, conn, round);
                      } else {
                        read_usage_page(slot, conn, {}, round, shared);
                      }
                    });
}

bool Database::usage_answered(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                              std::expected<PgResults, DbError> const& result) {
  if (m_stopped) return false;
  if (slot.conn != conn) {
    --m_usage_reads;
    return false;
  }
  if (!result && closes_connection(result.error())) {
    --m_usage_reads;
    lost(slot, result.error().message);
    return false;
  }
  if (!result) {
    usage_failed(slot, conn, classify(result.error()));
    return false;
  }
  return true;
}

void Database::usage_failed(Slot& slot, std::shared_ptr<PgConnection> const& conn, StoreError const& error) {
  // The round ends here; the sequences it did not reach stay as they were read last.
  --m_usage_reads;
  thread_local LogThrottle log;
  if (log.allow()) {
    std::string const advice = error.kind == StoreError::Kind::denied
                                   ? "; pezd's role " + conn->user() +
                                         " needs EXECUTE on pez.usage() and the pez.usage_* functions, which every "
                                         "role has unless it was revoked: " +
                                         usage_grant(error.message, conn->user())
                                   : std::string();
    spdlog::warn(
        "cannot read where the sequences stand, for the rates and forecasts of pez admin list and "
        "/metrics (they stay as last read): {}{}; trying again in {} (setting usage_interval; off "
        "reads nothing){}",
        error.message, advice, settings::format_duration(m_options.usage_interval), log.left_out_text());
  }
  release(slot, conn);
}

void Database::read_usage_page(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& after,
                               std::uint64_t round, std::string const& shared) {
  std::string const most = std::to_string(k_usage_page);
  char const* params[] = {shared.c_str(), after.empty() ? nullptr : after.c_str(), most.c_str()};
  conn->exec_params(k_usage_refresh_sql, params, m_options.statement_timeout,
                    [this, &slot, conn, round, shared](std::expected<PgResults, DbError> result) {
                      auto const page = usage_read(slot, conn, result, round);
                      if (!page) return;
                      if (page->rows >= static_cast<std::size_t>(k_usage_page)) {
                        read_usage_page(slot, conn, page->last, round, shared);
                        return;
                      }
                      // Every page read: the stored pages no round wrote since go (dropped sequences).
                      char const* finish[] = {shared.c_str()};
                      conn->exec_params(k_usage_finish_sql, finish, m_options.statement_timeout,
                                        [this, &slot, conn, round](std::expected<PgResults, DbError> done) {
                                          if (!usage_answered(slot, conn, done)) return;
                                          usage_round_read(slot, conn, round);
                                        });
                    });
}

void Database::read_stored_usage(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::uint64_t round) {
  conn->exec(k_usage_stored_sql, m_options.statement_timeout,
             [this, &slot, conn, round](std::expected<PgResults, DbError> result) {
               if (usage_read(slot, conn, result, round)) usage_round_read(slot, conn, round);
             });
}

std::optional<UsagePage> Database::usage_read(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                                              std::expected<PgResults, DbError> const& result, std::uint64_t round) {
  if (!usage_answered(slot, conn, result)) return std::nullopt;
  auto page = usage_answer(*result);
  if (!page) {
    usage_failed(slot, conn, page.error());
    return std::nullopt;
  }
  for (auto const& position : page->positions) m_usage.read(position, round);
  return std::move(*page);
}

void Database::usage_round_read(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::uint64_t round) {
  --m_usage_reads;
  m_usage.end_round(round);
  release(slot, conn);
}

std::optional<std::string> Database::safety_problem() const {
  if (!m_options.require_synchronous_standby) return std::nullopt;
  if (!m_failover) {
    return "require_synchronous_standby is on and whether the primary has a synchronous standby is not known";
  }
  return m_failover->refusal();
}

}  // namespace pez::daemon
