// SPDX-License-Identifier: Apache-2.0
// Every answer of the database read, checked and classified once: the failures of an exchange
// (classify), the rows of pez.take, pez.reserve, a change and a description, and the catalog's
// columns. Nothing here talks to a server; the unit tests feed it rows.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

#include "daemon/alloc/catalog.hpp"
#include "daemon/alloc/store.hpp"
#include "daemon/db/pg_connection.hpp"
#include "daemon/ops/usage.hpp"

namespace pez::daemon {

// How a failed exchange counts (see StoreError).
StoreError classify(DbError const& error);
// Whether a connection that drew this failure must be closed: it broke, timed out, or is no
// longer trusted (a standby, or an exchange that drew a warning).
bool closes_connection(DbError const& error);

// The numbers of a pez.take answer: exactly count values, each a whole number; anything else is
// an internal error and hands out nothing.
TakeResult read_take(std::vector<char const*> const& values, std::uint32_t count);
// The block of a pez.reserve answer (first_value, last_value, increment, generation): in the
// direction of the step, and no more numbers than asked for.
ReserveResult read_reserve(std::span<char const* const> row, std::uint64_t asked);

// One value of an exchange's results (statement which, row, column), or "" when it is absent.
std::string value(PgResults const& results, std::size_t which, int row, int column);

// Reads the catalog columns 0-7 of the catalog and list statements; false if a value is unreadable.
bool read_info(PGresult const* rows, int row, SequenceInfo& info);
// Where the format columns (format, period, time zone, check, current period) start in the
// catalog and list statements.
inline constexpr int k_catalog_format_column = 8;
inline constexpr int k_list_format_column = 14;
// Reads the format columns from column first on into info (after read_info: the template is
// checked against the range), and the current period (yyyymmdd, 0 for none) into current_period
// when given; false if a value is unreadable. A template pezd cannot use is not unreadable: it
// leaves info.format null and says why in info.format_error.
bool read_format(PGresult const* rows, int row, int first, SequenceInfo& info, std::int32_t* current_period = nullptr);

// The answers of the statements, from the rows of their exchange (the last statement's).
// pez.take_dated's answer (the period and the numbers as an array), and pez.take's (a row a number).
std::expected<Taken, StoreError> take_answer(PgResults const& results, std::uint32_t count);
std::expected<Taken, StoreError> take_rows_answer(PgResults const& results, std::uint32_t count);
std::expected<Block, StoreError> reserve_answer(PgResults const& results, std::uint64_t count);
// k_reserve_many_sql's: a row for each ask, in order, its block or its refusal.
std::expected<std::vector<ReserveResult>, StoreError> reserve_many_answer(PgResults const& results,
                                                                          std::vector<std::uint64_t> const& counts);
// k_take_many_sql's: a row for each ask, in order, its numbers (exactly as many as asked, with
// their period) or its refusal.
std::expected<std::vector<TakeResult>, StoreError> take_many_answer(PgResults const& results,
                                                                    std::vector<std::uint32_t> const& counts);
// The generation a create or reset made (0 for a drop).
std::expected<std::int64_t, StoreError> change_answer(PgResults const& results, bool drop);
// k_create_many_sql's: a row for each create, in order, with its generation or the SQLSTATE and
// message of its refusal (classified as the same refusal of one create would be).
std::expected<std::vector<ChangeResult>, StoreError> create_many_answer(PgResults const& results, std::size_t count);
std::expected<std::vector<SequenceRow>, StoreError> describe_answer(PgResults const& results);

// A page of pez.usage_refresh() or the answer of pez.usage_stored() (sql/016_shared_usage.sql): the
// positions read of sequences pezd serves, each with the time it was read at, how many rows it
// held (a page of fewer than asked for is the last) and the last name in it (the next page starts
// after it).
struct UsagePage {
  std::vector<Position> positions;
  std::size_t rows = 0;
  std::string last;
};
std::expected<UsagePage, StoreError> usage_answer(PgResults const& results);

}  // namespace pez::daemon
