// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/db_answers.hpp"

#include <libpq-fe.h>

#include <array>
#include <charconv>

#include "common/count.hpp"
#include "common/text.hpp"

namespace pez::daemon {

namespace {

// The server's sentence alone, without "ERROR:" before it and the PL/pgSQL context after it.
std::string without_severity(std::string message) {
  for (std::string_view prefix : {"ERROR:", "FATAL:"}) {
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
  }
  if (auto context = message.find("CONTEXT:"); context != std::string::npos) message.erase(context);
  auto const first = message.find_first_not_of(' ');
  auto const last = message.find_last_not_of(' ');
  return first == std::string::npos ? message : message.substr(first, last - first + 1);
}

// The rows of the last statement of an exchange, or null.
[[gnu::noinline]] PGresult const* last_result(PgResults const& results) {
  return results.empty() ? nullptr : results.back().get();
}

std::optional<std::string> text_or_none(PGresult const* rows, int row, int column) {
  if (PQgetisnull(rows, row, column)) return std::nullopt;
  return std::string(PQgetvalue(rows, row, column));
}

// A bytea column in text form (hex, or escape where bytea_output says so) as its bytes; none
// if it is NULL (or libpq had no memory for it).
std::optional<std::string> bytea_value(PGresult const* rows, int row, int column) {
  if (PQgetisnull(rows, row, column)) return std::nullopt;
  std::size_t length = 0;
  auto* bytes = PQunescapeBytea(reinterpret_cast<unsigned char const*>(PQgetvalue(rows, row, column)), &length);
  if (bytes == nullptr) return std::nullopt;
  std::string out(reinterpret_cast<char const*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

// A period as the statements write it: yyyymmdd, or NULL (0). False if it is something else.
bool read_period(char const* text, std::int32_t& period) {
  period = 0;
  if (text == nullptr) return true;
  std::string_view const t(text);
  auto const [end, ec] = std::from_chars(t.data(), t.data() + t.size(), period);
  return ec == std::errc{} && end == t.data() + t.size() && t.size() == 8 && period > 10000101;
}

StoreError unreadable(std::string what) {
  return unreadable_answer(std::move(what) + " with something pezd cannot read");
}

}  // namespace

// Reads the catalog columns 0-7 of k_catalog_sql and k_list_sql; false if a value is unreadable.
bool read_info(PGresult const* rows, int row, SequenceInfo& info) {
  auto number = [&](int column, std::int64_t& out) {
    auto const v = parse_int64(PQgetvalue(rows, row, column));
    if (v) out = *v;
    return v.has_value();
  };
  info.name = PQgetvalue(rows, row, 0);
  info.cycle = std::string_view(PQgetvalue(rows, row, 5)) == "t";
  info.block.reset();
  if (!PQgetisnull(rows, row, 6)) info.block = std::string_view(PQgetvalue(rows, row, 6)) == "block";
  return number(1, info.increment) && number(2, info.min) && number(3, info.max) && number(4, info.start) &&
         number(7, info.generation) && info.increment != 0;
}

bool read_format(PGresult const* rows, int row, int first, SequenceInfo& info, std::int32_t* current_period) {
  if (PQnfields(rows) < first + 5) return false;
  auto const text = [&](int column) { return text_or_none(rows, row, first + column); };
  auto const format = text(0);
  auto const period_name = text(1);
  auto const check_name = text(3);
  info.format.reset();
  info.format_error.clear();
  info.time_zone = text(2).value_or("");
  info.periodic = period_name.has_value();
  std::int32_t period = 0;
  if (!read_period(PQgetisnull(rows, row, first + 4) ? nullptr : PQgetvalue(rows, row, first + 4), period))
    return false;
  if (current_period != nullptr) *current_period = period;
  if (!format) {
    if (period_name || check_name) info.format_error = "it has a period or check characters but no format";
    return true;
  }
  namespace nt = number_template;
  auto const p = period_name ? nt::period_named(*period_name) : std::optional(nt::Period::none);
  auto const c = check_name ? nt::check_named(*check_name) : std::optional(nt::Check::none);
  if (!p || !c) {
    info.format_error = "its period or check algorithm is not one pezd knows";
    return true;
  }
  auto parsed = nt::parse(*format, nt::TemplateRules{*p, *c, info.min, info.max});
  if (!parsed) {
    info.format_error = "its format " + quote_untrusted(*format) + " cannot be used: " + parsed.error();
    return true;
  }
  info.format = std::make_shared<nt::NumberTemplate const>(std::move(*parsed));
  return true;
}

std::string value(PgResults const& results, std::size_t which, int row, int column) {
  if (which >= results.size()) return {};
  auto* r = results[which].get();
  if (row >= PQntuples(r) || column >= PQnfields(r) || PQgetisnull(r, row, column)) return {};
  return PQgetvalue(r, row, column);
}

StoreError classify(DbError const& error) {
  using Kind = StoreError::Kind;
  if (error.kind == DbError::Kind::timeout) return StoreError{Kind::timeout, error.message};
  if (!error.answered()) return StoreError{Kind::lost, error.message};
  auto message = without_severity(error.message);
  switch (error.kind) {
    case DbError::Kind::read_only:
      return StoreError{Kind::lost, "the server became read-only (a standby?): " + message};
    case DbError::Kind::untrusted:
      return StoreError{Kind::lost, std::move(message)};
    case DbError::Kind::not_found:
      return StoreError{Kind::not_found, std::move(message)};
    case DbError::Kind::exhausted:
      return StoreError{Kind::exhausted, std::move(message)};
    case DbError::Kind::invalid:
      return StoreError{Kind::invalid, std::move(message)};
    case DbError::Kind::exists:
      return StoreError{Kind::exists, std::move(message)};
    case DbError::Kind::in_use:
      return StoreError{Kind::in_use, std::move(message)};
    case DbError::Kind::denied:
      return StoreError{Kind::denied, std::move(message)};
    default:
      break;
  }
  auto const& state = error.sqlstate;
  return StoreError{Kind::internal, message + (state.empty() ? "" : " (SQLSTATE " + state + ")")};
}

bool closes_connection(DbError const& error) {
  return !error.answered() || error.kind == DbError::Kind::read_only || error.kind == DbError::Kind::untrusted;
}

TakeResult read_take(std::vector<char const*> const& values, std::uint32_t count) {
  auto bad = [](std::string what) { return std::unexpected(unreadable_answer("pez.take with " + what)); };
  if (values.size() != count) {
    return bad(std::to_string(values.size()) + " numbers for " + std::to_string(count));
  }
  Taken taken;
  taken.numbers.reserve(values.size());
  for (char const* text : values) {
    auto const v = parse_int64(text == nullptr ? "" : text);
    if (!v) return bad("a value that is not a number: " + quote_untrusted(text == nullptr ? "NULL" : text));
    taken.numbers.push_back(*v);
  }
  return taken;
}

ReserveResult read_reserve(std::span<char const* const> row, std::uint64_t asked) {
  auto bad = [](std::string what) { return std::unexpected(unreadable_answer("pez.reserve with " + what)); };
  if (row.size() != 4 && row.size() != 6) return bad("a row of " + std::to_string(row.size()) + " values");
  std::int64_t v[4] = {};
  for (std::size_t i = 0; i < 4; ++i) {
    auto const parsed = parse_int64(row[i] == nullptr ? "" : row[i]);
    if (!parsed) return bad("a value that is not a number: " + quote_untrusted(row[i] == nullptr ? "NULL" : row[i]));
    v[i] = *parsed;
  }
  Block block{v[0], v[1], v[2], v[3], 0, std::nullopt};
  if (row.size() == 6) {
    // The period and the seconds it has left: both or neither.
    if (!read_period(row[4], block.period) || (row[4] == nullptr) != (row[5] == nullptr)) {
      return bad("a period pezd cannot read");
    }
    if (row[5] != nullptr) {
      double seconds = 0;
      std::string_view const t(row[5]);
      auto const [end, ec] = std::from_chars(t.data(), t.data() + t.size(), seconds);
      if (ec != std::errc{} || end != t.data() + t.size() || !(seconds >= 0) || seconds > 1e9) {
        return bad("a period's length pezd cannot read: " + quote_untrusted(t));
      }
      block.valid_for = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    }
  }
  if (block.step == 0 || (block.step > 0 && block.last < block.first) || (block.step < 0 && block.last > block.first)) {
    return bad("a block against its own step");
  }
  auto const distance = block.step > 0
                            ? static_cast<std::uint64_t>(block.last) - static_cast<std::uint64_t>(block.first)
                            : static_cast<std::uint64_t>(block.first) - static_cast<std::uint64_t>(block.last);
  auto const stride =
      block.step > 0 ? static_cast<std::uint64_t>(block.step) : 0 - static_cast<std::uint64_t>(block.step);
  if (distance % stride != 0 || distance / stride >= asked) return bad("a block not of the size asked for");
  return block;
}

std::expected<Taken, StoreError> take_rows_answer(PgResults const& results, std::uint32_t count) {
  std::vector<char const*> values;
  if (auto const* rows = last_result(results)) {
    for (int row = 0; row < PQntuples(rows); ++row) {
      values.push_back(PQnfields(rows) == 1 && !PQgetisnull(rows, row, 0) ? PQgetvalue(rows, row, 0) : nullptr);
    }
  }
  return read_take(values, count);
}

namespace {

// A take_dated row's period (yyyymmdd or NULL) and numbers ({1,2,3}), read as take answers:
// exactly count of them; anything else is unreadable (what names the statement).
std::expected<Taken, StoreError> read_dated(PGresult const* rows, int row, std::uint32_t count, char const* what) {
  std::int32_t period = 0;
  if (PQgetisnull(rows, row, 1) != 0 ||
      !read_period(PQgetisnull(rows, row, 0) ? nullptr : PQgetvalue(rows, row, 0), period)) {
    return std::unexpected(unreadable(what));
  }
  std::string_view array = PQgetvalue(rows, row, 1);
  if (array.size() < 2 || array.front() != '{' || array.back() != '}') return std::unexpected(unreadable(what));
  array = array.substr(1, array.size() - 2);
  std::vector<std::string> texts;
  if (!array.empty()) {
    for (auto part : split(array, ',')) texts.emplace_back(part);
  }
  std::vector<char const*> values;
  values.reserve(texts.size());
  for (auto const& text : texts) values.push_back(text.c_str());
  auto taken = read_take(values, count);
  if (taken) taken->period = period;
  return taken;
}

}  // namespace

std::expected<Taken, StoreError> take_answer(PgResults const& results, std::uint32_t count) {
  // One row: the period (or NULL) and the numbers as an array, {1,2,3}.
  auto const* rows = last_result(results);
  if (rows == nullptr || PQntuples(rows) != 1 || PQnfields(rows) != 2) {
    return std::unexpected(unreadable("pez.take_dated"));
  }
  return read_dated(rows, 0, count, "pez.take_dated");
}

std::expected<Block, StoreError> reserve_answer(PgResults const& results, std::uint64_t count) {
  std::vector<char const*> row;
  auto const* rows = last_result(results);
  if (rows != nullptr && PQntuples(rows) == 1) {
    for (int column = 0; column < PQnfields(rows); ++column) {
      row.push_back(PQgetisnull(rows, 0, column) ? nullptr : PQgetvalue(rows, 0, column));
    }
  }
  return read_reserve(row, count);
}

namespace {

// The answer of a function that answers one row per item (pez.create_sequences, pez.reserve_many,
// pez.take_many): count rows of columns each, the SQLSTATE of an item's refusal in column
// refusal_column and its message after it; read_item reads a row that holds no refusal. A refusal
// of the kind that closes a connection is not one such a function lets through, and a row
// read_item cannot read makes the whole answer unreadable: nothing of it is used.
template <typename T, typename ReadItem>
std::expected<std::vector<std::expected<T, StoreError>>, StoreError> each_row(PgResults const& results,
                                                                              std::size_t count, int columns,
                                                                              int refusal_column, char const* what,
                                                                              ReadItem read_item) {
  auto const* rows = last_result(results);
  if (rows == nullptr || static_cast<std::size_t>(PQntuples(rows)) != count || PQnfields(rows) != columns) {
    return std::unexpected(unreadable(what));
  }
  std::vector<std::expected<T, StoreError>> out;
  out.reserve(count);
  for (int row = 0; row < PQntuples(rows); ++row) {
    if (PQgetisnull(rows, row, refusal_column) == 0) {
      auto refusal =
          classify(statement_error(PQgetvalue(rows, row, refusal_column), PQgetvalue(rows, row, refusal_column + 1)));
      if (refusal.kind == StoreError::Kind::lost) return std::unexpected(unreadable(what));
      out.emplace_back(std::unexpected(std::move(refusal)));
      continue;
    }
    std::expected<T, StoreError> item = read_item(rows, row);
    if (!item) return std::unexpected(std::move(item.error()));
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

std::expected<std::vector<ReserveResult>, StoreError> reserve_many_answer(PgResults const& results,
                                                                          std::vector<std::uint64_t> const& counts) {
  return each_row<Block>(results, counts.size(), 8, 6, "a reserve of several sequences",
                         [&counts](PGresult const* rows, int i) {
                           std::array<char const*, 6> row{};
                           for (int column = 0; column < 6; ++column) {
                             row.at(static_cast<std::size_t>(column)) =
                                 PQgetisnull(rows, i, column) ? nullptr : PQgetvalue(rows, i, column);
                           }
                           return read_reserve(row, counts[static_cast<std::size_t>(i)]);
                         });
}

std::expected<std::vector<TakeResult>, StoreError> take_many_answer(PgResults const& results,
                                                                    std::vector<std::uint32_t> const& counts) {
  char const* const what = "a take of several sequences";
  return each_row<Taken>(results, counts.size(), 4, 2, what, [&counts, what](PGresult const* rows, int i) {
    return read_dated(rows, i, counts[static_cast<std::size_t>(i)], what);
  });
}

std::expected<std::int64_t, StoreError> change_answer(PgResults const& results, bool drop) {
  if (drop) return 0;
  auto const* rows = last_result(results);
  if (rows == nullptr || PQntuples(rows) != 1 || PQnfields(rows) != 1) return std::unexpected(unreadable("a change"));
  auto const generation = parse_int64(PQgetvalue(rows, 0, 0));
  if (!generation) return std::unexpected(unreadable("a change"));
  return *generation;
}

std::expected<std::vector<ChangeResult>, StoreError> create_many_answer(PgResults const& results, std::size_t count) {
  return each_row<std::int64_t>(results, count, 3, 1, "several creates",
                                [](PGresult const* rows, int row) -> std::expected<std::int64_t, StoreError> {
                                  auto const generation = parse_int64(PQgetvalue(rows, row, 0));
                                  if (!generation) return std::unexpected(unreadable("several creates"));
                                  return *generation;
                                });
}

std::expected<std::vector<SequenceRow>, StoreError> describe_answer(PgResults const& results) {
  std::vector<SequenceRow> out;
  auto const* rows = last_result(results);
  int const n = rows == nullptr ? 0 : PQntuples(rows);
  for (int row = 0; row < n; ++row) {
    SequenceRow r;
    if (PQnfields(rows) != k_list_format_column + 5 || !read_info(rows, row, r.info) ||
        !read_format(rows, row, k_list_format_column, r.info, &r.current_period)) {
      return std::unexpected(unreadable("a description"));
    }
    auto const last = parse_int64(PQgetvalue(rows, row, 8));
    auto const connections = parse_int64(PQgetvalue(rows, row, 13));
    if (!last || !connections) return std::unexpected(unreadable("a description"));
    r.last_value = *last;
    r.is_called = std::string_view(PQgetvalue(rows, row, 9)) == "t";
    auto description = bytea_value(rows, row, 10);
    if (!description) return std::unexpected(unreadable("a description"));
    r.description = std::move(*description);
    r.created_at = text_or_none(rows, row, 11);
    r.reset_at = text_or_none(rows, row, 12);
    r.pezd_connections = *connections;
    out.push_back(std::move(r));
  }
  return out;
}

std::expected<UsagePage, StoreError> usage_answer(PgResults const& results) {
  UsagePage page;
  auto const* rows = last_result(results);
  if (rows == nullptr || PQnfields(rows) != 12) return std::unexpected(unreadable("a usage reading"));
  page.rows = static_cast<std::size_t>(PQntuples(rows));
  for (int row = 0; row < PQntuples(rows); ++row) {
    page.last = PQgetvalue(rows, row, 0);
    // No state: left out (dropped meanwhile, locked, not readable), or not a name pezd serves.
    if (PQgetisnull(rows, row, 8) || PQgetisnull(rows, row, 9)) continue;
    auto number = [&](int column) { return parse_int64(PQgetvalue(rows, row, column)); };
    auto const identity = number(1);
    auto const generation = number(2);
    auto const increment = number(3);
    auto const min = number(4);
    auto const max = number(5);
    auto const start = number(6);
    auto const last = number(8);
    auto const read_at = number(11);
    Position p;
    if (!identity || !generation || !increment || !min || !max || !start || !last || !read_at || *identity < 0 ||
        *identity > 0xffffffffLL || *increment == 0 ||
        !read_period(PQgetisnull(rows, row, 10) ? nullptr : PQgetvalue(rows, row, 10), p.period)) {
      return std::unexpected(unreadable("a usage reading"));
    }
    p.name = page.last;
    p.identity = static_cast<std::uint32_t>(*identity);
    p.generation = *generation;
    p.shape = SequenceShape{*increment, *min, *max, *start, std::string_view(PQgetvalue(rows, row, 7)) == "t"};
    p.last_value = *last;
    p.is_called = std::string_view(PQgetvalue(rows, row, 9)) == "t";
    p.read_at = *read_at;
    page.positions.push_back(std::move(p));
  }
  return page;
}

}  // namespace pez::daemon
