// SPDX-License-Identifier: Apache-2.0
// The database side of pezd, the real Store (store.hpp): a few PostgreSQL connections kept open
// (reconnecting with backoff), each set up before use (durable commits, not a standby, schema
// migrated, statements prepared), the catalog of sequences read from them, and every answer of
// the database read and checked in db_answers.hpp.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "daemon/alloc/catalog.hpp"
#include "daemon/alloc/store.hpp"
#include "daemon/db/db_answers.hpp"
#include "daemon/db/failover.hpp"
#include "daemon/db/pg_connection.hpp"
#include "daemon/ops/usage.hpp"

namespace pez::daemon {

class Metrics;

// The statements that take numbers, from sql/: $1 is the sequence (pez."name"), $2 how many.
// Each writes WAL in its transaction (a logical message, setval) and turns synchronous_commit on
// for it, so that the commit is flushed, and on a synchronous standby, before the numbers are
// answered (see 004 and 006 for why). Sent as unnamed statements, which a transaction pooler
// passes on whole. A periodic sequence's take and every reserve also answer the period the
// numbers belong to (007), as yyyymmdd, whatever the server's DateStyle; the reserve also the
// seconds that period has left. A sequence the catalog shows without period is taken with
// pez.take, which costs less (and enters the period of one that has become periodic meanwhile;
// its numbers then come without their period and are refused, not printed, until the catalog
// is read again).
inline constexpr char const k_take_sql[] = "SELECT pez.take($1::regclass, $2::integer)";
inline constexpr char const k_take_dated_sql[] =
    "SELECT to_char(period, 'YYYYMMDD'), numbers FROM pez.take_dated($1::regclass, $2::integer)";
inline constexpr char const k_reserve_sql[] =
    "SELECT first_value, last_value, increment, generation, to_char(period, 'YYYYMMDD'), valid_for"
    " FROM pez.reserve_dated($1::regclass, $2::bigint)";
// The same for several sequences ($1 their names, $2 the counts) in one statement, in the order
// given (the caller sorts them by name: transactions that lock sequences in one order cannot
// deadlock), each apart (sql/012_reserve_many.sql): a row each, its block or its refusal's
// SQLSTATE and message.
inline constexpr char const k_reserve_many_sql[] =
    "SELECT first_value, last_value, increment, generation, to_char(period, 'YYYYMMDD'), valid_for, error_code,"
    " error_message FROM pez.reserve_many($1::text[], $2::bigint[])";
// The same for strict takes of several sequences ($1 their names, $2 the counts), each apart
// (sql/013_take_many.sql): a row each, as k_take_dated_sql's, or its refusal's SQLSTATE and message.
inline constexpr char const k_take_many_sql[] =
    "SELECT to_char(period, 'YYYYMMDD'), numbers, error_code, error_message"
    " FROM pez.take_many($1::text[], $2::integer[])";
// Several creates in one statement (sql/010_create_many.sql): $1 a JSON array of the arguments
// of pez.create_sequence for each, in its order.
inline constexpr char const k_create_many_sql[] =
    "SELECT generation, error_code, error_message FROM pez.create_sequences($1::jsonb)";
// The channel sql/003_admin.sql announces changes on: "NAME GENERATION" or "NAME dropped".
inline constexpr char const k_change_channel[] = "pez_sequences";

// The sequence of a name as a regclass literal. Names are checked (a-z 0-9 _ -) before they get
// here; the quotes keep '-' part of the identifier.
inline std::string qualified_sequence(std::string_view name) { return "pez.\"" + std::string(name) + "\""; }

class Database final : public Store {
 public:
  using Clock = std::chrono::steady_clock;
  using Millis = std::chrono::milliseconds;

  struct Options {
    ConnParams params;
    // A direct connection (not through a transaction pooler) for LISTEN and the catalog; empty
    // for none: then every connection listens.
    ConnParams listen_params;
    int connections = 2;
    TimeLimit connect_timeout{Millis{5000}, "connect_timeout"};
    TimeLimit statement_timeout{Millis{5000}, "request_timeout"};
    Millis reconnect_max{1000};
    // Refuse numbers (safety_problem) while the primary has no synchronous standby configured.
    bool require_synchronous_standby = false;
    // How often every sequence's position is read for the rates and forecasts; 0: never.
    Millis usage_interval{10000};
    // The statements of admin commands (a change, creates, list and inspect).
    TimeLimit admin_timeout{Millis{10000}, "admin_timeout"};
    // The daemon serves block mode by default, which refuses without change notices: a connection
    // whose probe's notice was sent and did not arrive is probed again now and then (a notice late
    // once, from a server briefly overloaded, would otherwise keep it refusing until the
    // connection is opened again). In strict mode nothing needs them, and behind a transaction
    // pooler each probe again would hold a connection for seconds for nothing, until a sequence
    // served in block mode is asked for (block_used).
    bool block_default = false;
  };

  Database(boost::asio::io_context& io, Options options, Metrics& metrics);
  ~Database();
  Database(Database const&) = delete;
  Database& operator=(Database const&) = delete;

  void start();
  void stop();

  // Store:
  void set_events(StoreEvents* events) override { m_events = events; }
  bool can_send() const override;
  void take(std::string const& name, std::uint32_t count, TakeHandler handler) override;
  void reserve(std::string const& name, std::uint64_t count, ReserveHandler handler) override;
  void reserve_many(std::vector<ReserveAsk> const& asks, ReserveManyHandler handler) override;
  void take_many(std::vector<TakeAsk> const& asks, TakeManyHandler handler) override;
  // As reserve_batch: each take of a sequence without cycle holds its advisory lock to the commit.
  std::size_t take_batch() const override { return 32; }
  // Each reserve holds its sequence's advisory lock to the commit: 32 of them a statement stay
  // well within the lock table (max_locks_per_transaction) with many daemons at once.
  std::size_t reserve_batch() const override { return 32; }
  void change(Change const& change, ChangeHandler handler) override;
  void create_many(std::vector<CreateSpec> const& specs, CreateManyHandler handler) override;
  // Each create's locks (its new relation's among them) are held to the commit, as a reserve's.
  std::size_t create_batch() const override { return 32; }
  void describe(std::string const& name, DescribeHandler handler) override;
  Catalog const& catalog() const override { return m_catalog; }
  std::uint64_t refresh_catalog() override;
  std::uint64_t refresh_entry(std::string const& name) override;
  // Names gathered for k_lookup_gather, then read together (or with any read that starts sooner).
  void look_up(std::string const& name) override;
  bool catalog_stale() const override;
  bool catalog_complete() const override;
  bool up() const override;    // some connection is set up
  bool down() const override;  // none is, and the latest attempt failed: answer at once, do not wait
  std::string last_error() const override { return m_last_error; }
  std::optional<std::string> notices_problem() const override;
  // From the first request for a sequence served in block mode on, a connection whose notice did
  // not arrive is probed again now and then: those that wait for it at once (a moment later).
  void block_used() override;
  std::optional<std::string> safety_problem() const override;
  Usage const* usage() const override { return &m_usage; }

  // What the latest check of the primary found (FailoverSafety), or nothing before the first.
  std::optional<FailoverSafety> const& failover() const { return m_failover; }

  std::string server() const { return m_server; }
  // While no connection is up: why the latest attempt cannot succeed until the settings are
  // changed (misconfiguration() of db_error.hpp), if that is why it failed.
  std::optional<std::string> configuration_error() const { return up() ? std::nullopt : m_misconfiguration; }
  // While no connection is up: the latest attempt failed to connect (rather than in pezd's
  // set-up of a connection it made), so last_error() is libpq's text.
  bool cannot_connect() const { return !up() && m_cannot_connect; }
  int connections_up() const;

 private:
  struct Slot;
  // The free connection a statement runs on (can_send() must be true).
  Slot& lease();
  // Ends a statement that ran on slot: the connection is closed if the failure says so, the
  // handler runs (answer), then the connection is offered again if it is still up.
  void finish(Slot& slot, std::shared_ptr<PgConnection> const& conn, DbError const* failure,
              std::move_only_function<void()> answer);
  // The handler of a statement's exchange on slot: the answer is read with read (the results
  // to a T or an error) and given to handler, then the connection goes back (finish).
  template <typename T, typename Read>
  PgConnection::ResultHandler answer(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                                     std::move_only_function<void(std::expected<T, StoreError>)> handler, Read read);

  // Opening and setting up a connection (database_setup.cpp), one statement at a time: each
  // answer goes to the step that sent it, unless the connection was replaced meanwhile.
  enum class SetupStep : std::uint8_t { session, listen, probe, unlisten, version, migration };
  void connect(Slot& slot);
  // Wraps the handler of a step of slot's set-up: it runs only while slot holds the connection
  // it was made for and the database runs (the one guard of the set-up).
  template <typename Result>
  std::move_only_function<void(Result)> while_current(Slot& slot, void (Database::*step)(Slot&, Result));
  void opened(Slot& slot, std::expected<void, DbError> result);
  // Sends the statement of step on slot's connection; its answer goes to setup_answer.
  void setup_send(Slot& slot, SetupStep step, std::string const& sql);
  void setup_answer(Slot& slot, std::expected<PgResults, DbError> answer);
  // What to say when the statement of slot's step failed.
  std::string setup_problem(Slot const& slot, DbError const& error) const;
  void session_read(Slot& slot, PgResults const& rows);
  // After the session was read (and the probe): the schema's version, read and migrated by the
  // connections that take numbers.
  void schema_next(Slot& slot);
  void version_read(Slot& slot, PgResults const& rows);
  // Applies the first migration after from_version, or checks the failover safety when none is
  // left.
  void migrate(Slot& slot, int from_version);
  void migrated(Slot& slot);
  void finish_setup(Slot& slot);
  // Reads whether a failover can lose what a commit took (k_failover_sql) on a connection that
  // takes numbers, then next; while it is set up (a failure fails the setup) or, every second, on
  // a free connection (a failure drops only the connection; a server now in recovery is lost).
  void check_failover(Slot& slot, std::shared_ptr<PgConnection> const& conn, bool setting_up,
                      std::function<void()> next);
  void run_failover_check(Slot& slot);
  void arm_failover_check();
  void failover_read(FailoverSafety safety);
  // Reads every sequence's position on a free connection every usage_interval, into m_usage:
  // claims the round of pezd's role (sql/016_shared_usage.sql), then either reads the positions a
  // page at a time for every daemon of the role and ends the round (read_usage_page), or reads the
  // positions another daemon stored (read_stored_usage). A failure is logged and the next
  // interval tries again.
  void run_usage_read(Slot& slot);
  void read_usage_page(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& after,
                       std::uint64_t round, std::string const& shared);
  void read_stored_usage(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::uint64_t round);
  // Whether a statement of the round answered on a connection that is still slot's: else the
  // round is over (failed, logged; the connection lost when the failure closes it).
  bool usage_answered(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                      std::expected<PgResults, DbError> const& result);
  void usage_failed(Slot& slot, std::shared_ptr<PgConnection> const& conn, StoreError const& error);
  // The page a statement of the round answered, its positions read into m_usage; none when the
  // round is over (usage_answered, or an answer pezd cannot read).
  std::optional<UsagePage> usage_read(Slot& slot, std::shared_ptr<PgConnection> const& conn,
                                      std::expected<PgResults, DbError> const& result, std::uint64_t round);
  void usage_round_read(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::uint64_t round);
  // This daemon's name to pez.usage_claim, made up at start.
  static std::string usage_daemon_name();
  void arm_usage_read();
  // A periodic statement on slot is over: it is free again, if it is still up and leased.
  void release(Slot& slot, std::shared_ptr<PgConnection> const& conn);
  void setup_failed(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::string const& message);
  void schedule_reconnect(Slot& slot);
  void lost(Slot& slot, std::string const& message);
  void became_free(Slot& slot);
  void run_catalog_refresh(Slot& slot);
  // The answer of a catalog read (number read, whole or of names) on slot's connection conn.
  void catalog_read(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::uint64_t read, bool whole,
                    std::vector<std::string>& names, std::expected<PgResults, DbError> result);
  bool catalog_read_wanted() const {
    return m_refresh_wanted || !m_entries_wanted.empty() || (m_lookups_due && !m_lookups.empty());
  }
  // Starts the read wanted on a free connection that reads the catalog, unless one runs; answers
  // the number of the next read to start.
  std::uint64_t start_catalog_read();
  // Reads the catalog on slot (leased for it) once the event at hand is handled, not at once: a
  // change's answer, the notices that came with it and those of the same change read from other
  // connections in the same turn of the event loop all want the same name, and one read that
  // starts after all of them answers them all.
  void defer_catalog_read(Slot& slot);
  // A connection is set up (and the catalog read, when it ran on it): it is free for statements.
  void connection_ready(Slot& slot);
  void note_failure(std::string const& message);
  void notice(std::string_view channel, std::string_view payload);
  // Whether slot's connection listens for change notices and reads the catalog (every connection,
  // or the listener alone).
  bool listens(Slot const& slot) const;
  // Proves that notices reach this connection: LISTEN on a channel of its own, NOTIFY it from a
  // second connection (another of the daemon's that is free, else one opened for it: as through
  // a pooler in transaction mode, where it would not arrive), and wait for it (k_probe_wait, once
  // it is sent); then UNLISTEN, and on with the schema. A connection that hears none still serves
  // strict mode.
  void probe(Slot& slot);
  std::string probe_channel_name();  // a channel of this process no other probe used
  void probe_listening(Slot& slot);
  void probe_notify(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::shared_ptr<PgConnection> const& prober);
  // The notice sent from sender, another connection of the daemon that was free (leased for it).
  void probe_notify_from(Slot& slot, Slot& sender);
  // The notice was sent: slot's connection conn hears it within k_probe_wait, or does not hear
  // notices.
  void await_probe_notice(Slot& slot, std::shared_ptr<PgConnection> const& conn);
  // How a probe ends: its notice heard; not sent (a second connection refused, or its NOTIFY
  // failed: whether notices arrive is not known, and the connection is probed again:
  // schedule_reprobe); or sent and not heard (as through a transaction pooler, or late: probed
  // again, less often, once block mode is used: Options::block_default, block_used).
  enum class ProbeEnd : std::uint8_t { heard, unsent, unheard };
  // The probe is over; why says why no notice arrived (empty when heard).
  void probed(Slot& slot, ProbeEnd end, std::string const& why = {});
  void forget_probe(Slot& slot);
  // A probe whose notice could not be sent proved nothing (a second connection refused, a pool
  // without room for it), and block mode refuses until every connection that listens hears
  // notices: such a connection is probed again, about 1 s later, then about twice as long after
  // each such failure up to a minute, without being opened again; one whose notice did not
  // arrive, once block mode is used (block_used), about 10 s later, then about twice as long
  // each time up to 10 minutes. reprobe runs once the connection is free and holds it, as its
  // setup did: LISTEN again (the failure ended every LISTEN), the probe, UNLISTEN; then reprobed
  // frees it. While it runs, the sender waits briefly (sender_limit).
  void schedule_reprobe(Slot& slot, ProbeEnd end);
  // The probe again is due after wait (then it runs once the connection is free).
  void arm_reprobe(Slot& slot, Millis wait);
  void reprobe(Slot& slot);
  void reprobed(Slot& slot);
  static TimeLimit sender_limit(Slot const& slot, TimeLimit limit);
  // Whether notices may have been missed since the catalog was last read whole: no connection
  // heard them all since (nor when the whole read that runs began).
  bool missed_notices() const;

  boost::asio::io_context& m_io;
  Options m_options;
  Metrics& m_metrics;
  std::vector<std::unique_ptr<Slot>> m_slots;
  Slot* m_listener = nullptr;  // the last of m_slots when listen_params are set
  std::uint64_t m_probes = 0;
  bool m_block_used = false;                                  // Options::block_default, or block_used was called
  std::minstd_rand m_reprobe_jitter{std::random_device{}()};  // so that connections probe again apart
  Catalog m_catalog;
  StoreEvents* m_events = nullptr;
  std::uint64_t m_reads_started = 0;
  bool m_stopped = true;
  bool m_latest_attempt_failed = false;
  bool m_refresh_wanted = false;           // a whole read of the catalog
  std::set<std::string> m_entries_wanted;  // a read of these names only (none while a whole one is wanted)
  int m_reads_running = 0;
  boost::asio::steady_timer m_catalog_read_timer;  // defer_catalog_read's
  // Names asked for that the catalog did not hold (look_up): read with the next read, or once
  // m_lookup_timer has run k_lookup_gather since the first of them (m_lookups_due).
  static constexpr std::chrono::milliseconds k_lookup_gather{100};
  std::set<std::string> m_lookups;
  boost::asio::steady_timer m_lookup_timer;
  bool m_lookup_armed = false;
  bool m_lookups_due = false;
  bool m_whole_read_running = false;
  // The connections that heard change notices when the latest whole read started (and since
  // when): the catalog misses no announced change while one of them still hears them.
  std::vector<std::pair<Slot const*, std::uint64_t>> m_hearing_at_read;
  std::vector<std::pair<Slot const*, std::uint64_t>> m_catalog_hearing;
  std::uint64_t m_hearing_serial = 0;
  bool m_was_up = false;
  int m_migrated_version = 0;
  std::string m_last_error = "not connected yet";
  std::optional<std::string> m_misconfiguration;
  bool m_cannot_connect = false;
  std::string m_server;
  std::optional<FailoverSafety> m_failover;
  std::optional<FailoverSafety::Kind> m_failover_logged;
  bool m_failover_stalled_logged = false;  // FailoverSafety::stalled, as last logged
  bool m_failover_due = false;
  boost::asio::steady_timer m_failover_timer;
  Usage m_usage;
  bool m_usage_due = false;
  int m_usage_reads = 0;  // rounds running: a new one starts only when none is
  boost::asio::steady_timer m_usage_timer;
  std::string const m_usage_daemon;
};

}  // namespace pez::daemon
