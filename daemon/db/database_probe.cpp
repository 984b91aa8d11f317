// SPDX-License-Identifier: Apache-2.0
// How Database proves that a connection hears change notices (the probe: LISTEN on a channel of
// its own, a NOTIFY from a second connection, the wait for it, UNLISTEN), as a step of its setup
// (database_setup.cpp) and again, with backoff, after a probe that could not send its notice or,
// once block mode is used (the daemon's mode, or a request for a sequence in block mode), whose
// notice did not arrive.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <utility>

#include "common/settings.hpp"
#include "daemon/db/database.hpp"
#include "daemon/db/database_slot.hpp"

namespace pez::daemon {
namespace {

// How long a connection's probe waits for its own notice, once sent.
constexpr auto k_probe_wait = std::chrono::seconds(2);
// When a connection whose probe could not send its notice is probed again: after the first wait,
// then twice the last one, up to the most (each drawn around it: schedule_reprobe).
constexpr Database::Millis k_reprobe_first{1000};
constexpr Database::Millis k_reprobe_most{60'000};
// The same for one whose notice was sent and did not arrive (in a daemon serving block mode by
// default): rarely, as behind a transaction pooler it never arrives and each probe holds the
// connection for k_probe_wait.
constexpr Database::Millis k_reprobe_unheard_first{10'000};
constexpr Database::Millis k_reprobe_unheard_most{600'000};

}  // namespace

std::string Database::probe_channel_name() {
  return "pez_probe_" + std::to_string(::getpid()) + "_" + std::to_string(++m_probes);
}

void Database::probe(Slot& slot) {
  slot.probe_channel = probe_channel_name();
  setup_send(slot, SetupStep::probe, "LISTEN " + slot.probe_channel);
}

void Database::probe_listening(Slot& slot) {
  auto const conn = slot.conn;
  // Another connection of the daemon, free now, sends it: no connection opened, and none needed
  // where a pool or a limit has no room for one (a connection probed again usually finds one).
  auto free = std::ranges::find_if(
      m_slots, [&slot](auto const& s) { return s.get() != &slot && !s->listener && s->state == Slot::State::idle; });
  if (free != m_slots.end()) {
    probe_notify_from(slot, **free);
    return;
  }
  auto prober = PgConnection::create(m_io);
  slot.prober = prober;
  prober->connect(
      slot.listener ? m_options.listen_params : m_options.params, sender_limit(slot, m_options.connect_timeout),
      [this, &slot, conn, prober](std::expected<void, DbError> opened) {
        if (slot.prober != prober || slot.probe_channel.empty()) return;
        if (!opened) {
          probed(slot, ProbeEnd::unsent, "a second connection to send one failed: " + opened.error().message);
          return;
        }
        probe_notify(slot, conn, prober);
      });
}

void Database::probe_notify(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                            std::shared_ptr<PgConnection> const& prober) {
  prober->exec("NOTIFY " + slot.probe_channel, sender_limit(slot, m_options.statement_timeout),
               [this, &slot, conn, prober](std::expected<PgResults, DbError> sent) {
                 if (slot.prober != prober || slot.probe_channel.empty()) return;
                 if (!sent) {
                   probed(slot, ProbeEnd::unsent, "sending one failed: " + sent.error().message);
                   return;
                 }
                 await_probe_notice(slot, conn);
               });
}

void Database::probe_notify_from(Slot& slot, Slot& sender) {
  sender.state = Slot::State::leased;
  auto const conn = slot.conn;
  auto const sender_conn = sender.conn;
  auto const channel = slot.probe_channel;
  // A connection of the daemon's own, which waits as for any statement.
  sender_conn->exec("NOTIFY " + channel, m_options.statement_timeout,
                    [this, &slot, &sender, conn, sender_conn, channel](std::expected<PgResults, DbError> sent) {
                      if (m_stopped) return;
                      bool const probing = slot.conn == conn && slot.probe_channel == channel;
                      if (probing && !sent)
                        probed(slot, ProbeEnd::unsent,
                               "sending one from another connection failed: " + sent.error().message);
                      if (probing && sent) await_probe_notice(slot, conn);
                      // The sender goes back to its work (or is lost, when the failure ended its connection).
                      if (sender.conn != sender_conn || sender.state != Slot::State::leased) return;
                      if (!sent && closes_connection(sent.error())) {
                        lost(sender, sent.error().message);
                      } else {
                        release(sender, sender_conn);
                      }
                    });
}

void Database::await_probe_notice(Slot& slot, std::shared_ptr<PgConnection> const& conn) {
  // The wait starts once the notice is sent: opening the second connection and sending on it can
  // take seconds on a loaded server, which says nothing of whether notices arrive (each such
  // connection is bounded by connect_timeout and request_timeout).
  slot.probe_timer.expires_after(k_probe_wait);
  slot.probe_timer.async_wait([this, &slot, conn](boost::system::error_code ec) {
    if (ec || slot.conn != conn || slot.probe_channel.empty()) return;
    probed(slot, ProbeEnd::unheard,
           "no notice arrived within " + settings::format_duration(k_probe_wait) + " of being sent");
  });
}

void Database::probed(Slot& slot, ProbeEnd end, std::string const& why) {
  if (slot.probe_channel.empty()) return;
  std::string const channel = std::exchange(slot.probe_channel, {});
  slot.probe_timer.cancel();
  if (slot.prober) slot.prober->close();
  slot.prober.reset();
  bool const heard = end == ProbeEnd::heard;
  // A probe that proved nothing is tried again; one whose notice was sent and did not arrive
  // found what a transaction pooler does, or a notice late, and is tried again, less often, only
  // once block mode, which needs notices, is used (Options::block_default, block_used).
  bool const again = end == ProbeEnd::unsent || (end == ProbeEnd::unheard && m_block_used);
  slot.reprobe_when_block_used = end == ProbeEnd::unheard && !again;
  slot.hears_notices = heard;
  slot.hearing_since = heard ? ++m_hearing_serial : 0;
  slot.probe_unsent = end == ProbeEnd::unsent ? why : std::string();
  auto const server = slot.conn->server();
  if (heard) {
    slot.reprobe_backoff = Millis{0};
    if (slot.reprobing) spdlog::info("change notices reach the database connection to {} now", server);
  } else if (slot.reprobing) {
    if (end == ProbeEnd::unsent) {
      spdlog::debug(
          "whether change notices reach the database connection to {} is still not known ({}); it is "
          "probed again",
          server, why);
    } else {
      spdlog::debug("change notices still do not reach the database connection to {} ({}); it is {}probed again",
                    server, why, again ? "" : "not ");
    }
  } else if (end == ProbeEnd::unsent) {
    spdlog::warn(
        "whether change notices reach the database connection to {} is not known: a probe could not send one "
        "({}); it is tried again, and block mode refuses meanwhile (a connection limit or a pooler's pool "
        "must leave room for the probe's second connection)",
        server, why);
  } else {
    spdlog::warn("change notices do not reach the database connection to {} ({}){}{}", server, why,
                 slot.listener ? "; it is the connection of listen_database_url, which must be a direct one"
                               : "; block mode needs them: set listen_database_url to a direct connection to the "
                                 "database (a connection pooler in transaction mode passes no notices), or serve in "
                                 "strict mode",
                 again ? " (it is probed again now and then, in case the notice was only late)" : "");
  }
  if (again) schedule_reprobe(slot, end);
  // The probe's channel is left; without notices, nothing is left listening on whatever server
  // connection a pooler gave it.
  setup_send(slot, SetupStep::unlisten, heard ? "UNLISTEN " + channel : std::string("UNLISTEN *"));
}

void Database::forget_probe(Slot& slot) {
  slot.probe_channel.clear();
  slot.probe_timer.cancel();
  if (slot.prober) slot.prober->close();
  slot.prober.reset();
  slot.hears_notices = false;
  slot.hearing_since = 0;
  slot.probe_unsent.clear();
  // A new connection is probed as it is set up; the wait before probing again is kept.
  slot.reprobe_timer.cancel();
  slot.reprobe_due = false;
  slot.reprobing = false;
  slot.reprobe_when_block_used = false;
}

void Database::block_used() {
  if (m_block_used) return;
  m_block_used = true;
  for (auto& s : m_slots) {
    Slot& slot = *s;
    if (!slot.reprobe_when_block_used || !slot.conn) continue;
    spdlog::info(
        "a sequence served in block mode was asked for, and change notices did not reach the database connection "
        "to {}: it is probed again now, then now and then",
        slot.conn->server());
    // Through the timer: the allocator asks while it admits a request.
    arm_reprobe(slot, Millis{0});
  }
}

void Database::schedule_reprobe(Slot& slot, ProbeEnd end) {
  bool const unheard = end == ProbeEnd::unheard;
  auto const first = unheard ? k_reprobe_unheard_first : k_reprobe_first;
  auto const most = unheard ? k_reprobe_unheard_most : k_reprobe_most;
  slot.reprobe_backoff = slot.reprobe_backoff.count() == 0 ? first : std::clamp(slot.reprobe_backoff * 2, first, most);
  // Half to one and a half times the wait: connections that failed together (each needing another
  // to be free) do not probe again together.
  std::uniform_int_distribution<Millis::rep> jitter(slot.reprobe_backoff.count() / 2,
                                                    slot.reprobe_backoff.count() * 3 / 2);
  arm_reprobe(slot, Millis{jitter(m_reprobe_jitter)});
}

void Database::arm_reprobe(Slot& slot, Millis wait) {
  slot.reprobe_when_block_used = false;
  slot.reprobe_timer.expires_after(wait);
  slot.reprobe_timer.async_wait([this, &slot, conn = slot.conn](boost::system::error_code ec) {
    if (ec || m_stopped || slot.conn != conn) return;
    slot.reprobe_due = true;
    if (slot.state == Slot::State::idle) became_free(slot);
  });
}

void Database::reprobe(Slot& slot) {
  // The connection runs nothing else until the probe is over, as when it is set up: behind a
  // transaction pooler a statement of its own could run on the server connection that listens
  // and bring it a notice that would not reach it otherwise.
  slot.reprobe_due = false;
  slot.reprobing = true;
  slot.state = Slot::State::leased;
  // The failed probe's UNLISTEN * ended every LISTEN.
  setup_send(slot, SetupStep::listen, k_listen_sql);
}

void Database::reprobed(Slot& slot) {
  slot.reprobing = false;
  // Notices may have been missed while it heard none, as when it reconnects (finish_setup).
  if (slot.hears_notices && listens(slot) && missed_notices()) m_refresh_wanted = true;
  release(slot, slot.conn);
}

TimeLimit Database::sender_limit(Slot const& slot, TimeLimit limit) {
  // A connection probed again waits for the sender: briefly.
  if (slot.reprobing && limit.after > k_probe_wait) return TimeLimit{k_probe_wait, "probing a connection again"};
  return limit;
}

bool Database::missed_notices() const {
  return !catalog_complete() && !(m_whole_read_running && !m_hearing_at_read.empty());
}

}  // namespace pez::daemon
