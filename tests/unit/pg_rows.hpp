// SPDX-License-Identifier: Apache-2.0
// A result of a statement made in memory, as libpq would hand it over, for the readers of
// daemon/db/db_answers.hpp.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

#include "daemon/db/pg_connection.hpp"

namespace pez::test {

// Rows of columns text values; nothing is SQL NULL.
inline daemon::PgResults pg_rows(std::vector<std::vector<std::optional<std::string>>> const& rows, int columns) {
  PGresult* result = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  std::vector<PGresAttDesc> attributes(static_cast<std::size_t>(columns));
  std::vector<std::string> names;
  for (int i = 0; i < columns; ++i) names.push_back("c" + std::to_string(i));
  for (std::size_t i = 0; i < attributes.size(); ++i) attributes[i].name = names[i].data();
  REQUIRE(PQsetResultAttrs(result, columns, attributes.data()) != 0);
  for (int row = 0; row < static_cast<int>(rows.size()); ++row) {
    for (int column = 0; column < columns; ++column) {
      auto const& value = rows[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)];
      // Length -1: NULL.
      REQUIRE(PQsetvalue(result, row, column, value ? const_cast<char*>(value->c_str()) : nullptr,
                         value ? static_cast<int>(value->size()) : -1) != 0);
    }
  }
  daemon::PgResults out;
  out.emplace_back(result);
  return out;
}

}  // namespace pez::test
