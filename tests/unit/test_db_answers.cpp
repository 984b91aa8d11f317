// SPDX-License-Identifier: Apache-2.0
// The answer of several creates in one statement (k_create_many_sql), read as the answers of the
// same creates one by one would be.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "daemon/db/db_answers.hpp"
#include "pg_rows.hpp"

using pez::daemon::create_many_answer;
using pez::daemon::StoreError;
using pez::test::pg_rows;

TEST_CASE("several creates: each one's generation or refusal, in order") {
  auto const answer =
      create_many_answer(pg_rows({{"41", std::nullopt, std::nullopt},
                                  {std::nullopt, "42P07", "sequence \"a\" exists already"},
                                  {std::nullopt, "22023", "start (9) must lie within min (1) and max (5)"},
                                  {std::nullopt, "42501", "permission denied for schema pez"},
                                  {"44", std::nullopt, std::nullopt}},
                                 3),
                         5);
  REQUIRE(answer);
  REQUIRE(answer->size() == 5);
  CHECK((*answer)[0].value() == 41);
  CHECK((*answer)[1].error().kind == StoreError::Kind::exists);
  CHECK((*answer)[1].error().message == "sequence \"a\" exists already");
  CHECK((*answer)[2].error().kind == StoreError::Kind::invalid);
  CHECK((*answer)[3].error().kind == StoreError::Kind::denied);
  CHECK((*answer)[4].value() == 44);
}

TEST_CASE("several creates: an answer that cannot be theirs is an internal error") {
  auto const one = pg_rows({{"41", std::nullopt, std::nullopt}}, 3);
  CHECK(create_many_answer(one, 2).error().kind == StoreError::Kind::internal);  // a row missing
  CHECK(create_many_answer(pg_rows({{"x", std::nullopt, std::nullopt}}, 3), 1).error().kind ==
        StoreError::Kind::internal);
  CHECK(create_many_answer(pg_rows({{"41", std::nullopt}}, 2), 1).error().kind == StoreError::Kind::internal);
  // A refusal of the kind that closes a connection is not one the function lets through.
  CHECK(create_many_answer(
            pg_rows({{std::nullopt, "25006", "cannot execute CREATE SEQUENCE in a read-only transaction"}}, 3), 1)
            .error()
            .kind == StoreError::Kind::internal);
}
