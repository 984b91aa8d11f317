// SPDX-License-Identifier: Apache-2.0
// The catalog of sequences, as Database reads it: whole, or the entries of a few names, one read
// at a time on the connection that reads it (the listener, or any), and the list of sequences
// with their state for pez admin list and inspect (describe).
#include <spdlog/spdlog.h>
#include <algorithm>
#include <iterator>

#include <string>
#include <utility>
#include <vector>

#include "common/names.hpp"
#include "daemon/db/database.hpp"
#include "daemon/db/database_slot.hpp"
#include "daemon/db/db_answers.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {
namespace {

// Columns 0-7 are read by read_info, as are those of k_list_sql; the format columns after them
// (k_format_columns) by read_format.
// From the catalog tables, not the view pg_sequences: the view opens every sequence, and one
// dropped meanwhile fails the whole read ("could not open relation with OID"). The schema is
// found when the statement is parsed ('pez'::regnamespace, after the FROM list, which fails
// first if pez is missing or out of reach), so there is no join with pg_namespace to plan.
#define PEZ_SEQUENCES_JOIN                                                          \
  " FROM pg_catalog.pg_class r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid" \
  " LEFT JOIN pez.sequences c ON c.name = r.relname::text"
#define PEZ_SEQUENCES_WHERE                                         \
  " WHERE r.relnamespace = 'pez'::regnamespace AND r.relkind = 'S'" \
  " AND " PEZ_SEQUENCE_NAME_SQL("r.relname::text")
// The format's columns hold printable ASCII when pezd wrote them (it checks them first), but a
// role may write any bytes into them by hand, and a server asked for UTF8 refuses a whole
// statement for one that its database's encoding cannot convert (WIN1252's 0x81: 22P05), so one
// such row would stop every sequence. They are read as their stored bytes (converting to
// SQL_ASCII converts nothing), with each byte past ASCII, and a backslash, as an escape
// ("T\201{n}"): valid columns read the same, and pezd refuses the odd one with its reason.
#define PEZ_FORMAT_COLUMNS                                      \
  " encode(convert_to(c.format, 'SQL_ASCII'), 'escape'),"       \
  " encode(convert_to(c.period, 'SQL_ASCII'), 'escape'),"       \
  " encode(convert_to(c.time_zone, 'SQL_ASCII'), 'escape'),"    \
  " encode(convert_to(c.check_digits, 'SQL_ASCII'), 'escape')," \
  " to_char(c.current_period, 'YYYYMMDD')"
#define PEZ_CATALOG_SELECT                                                              \
  "SELECT r.relname::text, s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle," \
  " c.mode, coalesce(c.generation, 0)," PEZ_FORMAT_COLUMNS PEZ_SEQUENCES_JOIN PEZ_SEQUENCES_WHERE
constexpr char const k_catalog_sql[] = PEZ_CATALOG_SELECT " ORDER BY 1";
// The same of the sequences named in $1 (a text array) only: found through pg_class's index on
// the name, so that it costs the same with 10 sequences in schema pez as with 100,000.
constexpr char const k_entries_sql[] = PEZ_CATALOG_SELECT " AND r.relname = ANY($1::text[]::name[])";

// Every sequence of schema pez with its settings, state and catalog entry (k_list_sql), or the
// one named $1 (k_describe_sql): a statement of its own, found through pg_class's index on the
// name (the name pattern alone would read every sequence: 20 ms of each pez admin create's read
// back beside 10,000 sequences) and planned for one name, not for either case.
// pez.sequence_state answers no state for a sequence dropped while the list is read (version 5).
// The daemons are counted from pg_stat_get_activity(NULL), which pg_stat_activity shows: the
// view's joins cost more to plan than the count itself.
// The description comes as the bytes of its UTF-8 (version 21): a database in another encoding
// may hold a character that the server cannot convert, which would fail the whole list.
#define PEZ_LIST_SELECT                                                                                         \
  "SELECT r.relname::text, s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle,"                         \
  " c.mode, coalesce(c.generation, 0), st.last_value, st.is_called,"                                            \
  " pez.description_utf8(coalesce(c.description, '')),"                                                         \
  " to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                                \
  " to_char(c.reset_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                                  \
  " (SELECT count(*) FROM pg_catalog.pg_stat_get_activity(NULL) a"                                              \
  "   WHERE a.application_name = 'pezd' AND a.datid ="                                                          \
  "     (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database()))," PEZ_FORMAT_COLUMNS \
      PEZ_SEQUENCES_JOIN " CROSS JOIN LATERAL pez.sequence_state(r.relname::text) st" PEZ_SEQUENCES_WHERE
constexpr char const k_list_sql[] = PEZ_LIST_SELECT " AND st.last_value IS NOT NULL ORDER BY 1";
constexpr char const k_describe_sql[] =
    PEZ_LIST_SELECT " AND r.relname = $1::text::name AND r.relname::text = $1::text AND st.last_value IS NOT NULL";

}  // namespace

std::string array_literal(std::vector<std::string> const& names) {
  std::string out = "{";
  for (auto const& name : names) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

bool Database::catalog_stale() const { return m_refresh_wanted || m_whole_read_running; }

bool Database::catalog_complete() const {
  if (catalog_stale() || !m_catalog.loaded()) return false;
  return std::ranges::any_of(m_catalog_hearing, [](auto const& heard) {
    return heard.first->hears_notices && heard.first->hearing_since == heard.second;
  });
}

void Database::run_catalog_refresh(Slot& slot) {
  auto conn = slot.conn;
  // A whole read covers the names wanted too.
  bool const whole = m_refresh_wanted;
  std::vector<std::string> names;
  if (!whole) std::ranges::set_union(m_entries_wanted, m_lookups, std::back_inserter(names));
  m_entries_wanted.clear();
  m_lookups.clear();
  m_lookups_due = false;
  m_refresh_wanted = false;
  ++m_reads_running;
  m_whole_read_running = whole;
  if (whole) {
    m_hearing_at_read.clear();
    for (auto const& s : m_slots) {
      bool const up = s->state == Slot::State::idle || s->state == Slot::State::leased;
      if (up && s->hears_notices && listens(*s)) m_hearing_at_read.emplace_back(s.get(), s->hearing_since);
    }
  }
  auto const read = ++m_reads_started;
  auto done = [this, &slot, conn, read, whole, names](std::expected<PgResults, DbError> result) mutable {
    catalog_read(slot, conn, read, whole, names, std::move(result));
  };
  if (whole) {
    conn->exec(k_catalog_sql, m_options.statement_timeout, std::move(done));
    return;
  }
  auto const list = array_literal(names);
  char const* params[] = {list.c_str()};
  conn->exec_params(k_entries_sql, params, m_options.statement_timeout, std::move(done));
}

void Database::catalog_read(Slot& slot, std::shared_ptr<PgConnection> const& conn, std::uint64_t read, bool whole,
                            std::vector<std::string>& names, std::expected<PgResults, DbError> result) {
  --m_reads_running;
  m_whole_read_running = false;
  if (slot.conn != conn || m_stopped) return;
  if (!result) {
    // Wanted again, by whichever connection reads the catalog next.
    if (whole) {
      m_refresh_wanted = true;
    } else if (!m_refresh_wanted) {
      m_entries_wanted.insert(names.begin(), names.end());
    }
    if (result.error().kind == DbError::Kind::denied) {
      setup_failed(slot, conn,
                   missing_grant(conn->user(), "read pez.sequences", "SELECT ON pez.sequences, among others"));
    } else if (result.error().answered()) {
      setup_failed(slot, conn, "cannot read the sequences of schema pez: " + result.error().message);
    } else {
      lost(slot, result.error().message);
    }
    return;
  }
  std::vector<SequenceInfo> sequences;
  auto const* rows = result->front().get();
  for (int row = 0; row < PQntuples(rows); ++row) {
    SequenceInfo info;
    if (!read_info(rows, row, info) || !read_format(rows, row, k_catalog_format_column, info)) {
      m_refresh_wanted = true;
      setup_failed(
          slot, conn,
          "cannot read the sequences of schema pez: row " + std::to_string(row) + " holds a value pezd cannot read");
      return;
    }
    sequences.push_back(std::move(info));
  }
  m_metrics.catalog_read(whole);
  if (whole) {
    m_catalog_hearing = m_hearing_at_read;
    m_catalog.replace(std::move(sequences), Clock::now(), read);
  } else {
    m_catalog.update(std::move(names), std::move(sequences), read);
  }
  if (m_events) m_events->store_catalog();
  connection_ready(slot);
}

void Database::describe(std::string const& name, DescribeHandler handler) {
  Slot& slot = lease();
  char const* params[] = {name.c_str()};
  auto const all = name.empty();
  slot.conn->exec_params(all ? k_list_sql : k_describe_sql, std::span(params, all ? 0 : 1), m_options.admin_timeout,
                         answer<std::vector<SequenceRow>>(slot, slot.conn, std::move(handler), describe_answer));
}

std::uint64_t Database::refresh_catalog() {
  m_refresh_wanted = true;
  m_entries_wanted.clear();
  return start_catalog_read();
}

std::uint64_t Database::refresh_entry(std::string const& name) {
  if (!m_refresh_wanted) m_entries_wanted.insert(name);
  return start_catalog_read();
}

void Database::look_up(std::string const& name) {
  if (m_refresh_wanted) return;  // the whole read wanted covers it
  m_lookups.insert(name);
  if (m_lookup_armed || m_lookups_due) return;
  m_lookup_armed = true;
  m_lookup_timer.expires_after(k_lookup_gather);
  m_lookup_timer.async_wait([this](boost::system::error_code ec) {
    m_lookup_armed = false;
    if (ec || m_stopped) return;
    m_lookups_due = true;
    start_catalog_read();
  });
}

std::uint64_t Database::start_catalog_read() {
  // The next read to start: a running one started before this call.
  auto const next = m_reads_started + 1;
  if (m_reads_running > 0) return next;
  for (auto& slot : m_slots) {
    if (slot->state == Slot::State::idle && listens(*slot)) {
      slot->state = Slot::State::leased;
      defer_catalog_read(*slot);
      return next;
    }
  }
  return next;
}

void Database::defer_catalog_read(Slot& slot) {
  // Counted as running from now: what is asked for meanwhile is read by it.
  ++m_reads_running;
  m_catalog_read_timer.expires_after(std::chrono::seconds(0));
  m_catalog_read_timer.async_wait([this, &slot, conn = slot.conn](boost::system::error_code ec) {
    if (ec) return;  // stop() counted it off
    --m_reads_running;
    if (m_stopped) return;
    if (slot.conn != conn || slot.state != Slot::State::leased) {
      // The connection was lost meanwhile: the names are still wanted, by another one.
      start_catalog_read();
      return;
    }
    if (!catalog_read_wanted()) {
      slot.state = Slot::State::idle;
      became_free(slot);
      return;
    }
    run_catalog_refresh(slot);
  });
}

}  // namespace pez::daemon
