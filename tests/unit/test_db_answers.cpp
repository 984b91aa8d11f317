// SPDX-License-Identifier: Apache-2.0
// The answers of several creates, reserves and takes in one statement (k_create_many_sql,
// k_reserve_many_sql, k_take_many_sql), read as the answers of the same one by one would be.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "daemon/db/db_answers.hpp"
#include "pg_rows.hpp"

using pez::daemon::create_many_answer;
using pez::daemon::reserve_many_answer;
using pez::daemon::StoreError;
using pez::daemon::take_many_answer;
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
  CHECK(create_many_answer(one, 2).error().kind == StoreError::Kind::unreadable);  // a row missing
  CHECK(create_many_answer(pg_rows({{"x", std::nullopt, std::nullopt}}, 3), 1).error().kind ==
        StoreError::Kind::unreadable);
  CHECK(create_many_answer(pg_rows({{"41", std::nullopt}}, 2), 1).error().kind == StoreError::Kind::unreadable);
  // A refusal of the kind that closes a connection is not one the function lets through.
  CHECK(create_many_answer(
            pg_rows({{std::nullopt, "25006", "cannot execute CREATE SEQUENCE in a read-only transaction"}}, 3), 1)
            .error()
            .kind == StoreError::Kind::unreadable);
}

TEST_CASE("several reserves: each one's block or refusal, in order") {
  auto const answer =
      reserve_many_answer(pg_rows({{"1", "100", "1", "3", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
                                   {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                                    "2200H", "nextval: reached maximum value of sequence \"pez.b\" (1000)"},
                                   {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                                    "42P01", "relation \"pez.c\" does not exist"},
                                   {"50", "41", "-1", "7", "20300102", "3600.5", std::nullopt, std::nullopt}},
                                  8),
                          {100, 10, 10, 10});
  REQUIRE(answer);
  REQUIRE(answer->size() == 4);
  REQUIRE((*answer)[0].has_value());
  CHECK((*answer)[0]->first == 1);
  CHECK((*answer)[0]->last == 100);
  CHECK((*answer)[0]->period == 0);
  CHECK((*answer)[1].error().kind == StoreError::Kind::exhausted);
  CHECK((*answer)[2].error().kind == StoreError::Kind::not_found);
  REQUIRE((*answer)[3].has_value());
  CHECK((*answer)[3]->first == 50);
  CHECK((*answer)[3]->last == 41);
  CHECK((*answer)[3]->period == 20300102);
}

TEST_CASE("several reserves: an answer that cannot be theirs is an internal error") {
  auto const row = std::vector<std::optional<std::string>>{"1",          "10",         "1",          "3",
                                                           std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  CHECK(reserve_many_answer(pg_rows({row}, 8), {10, 10}).error().kind ==
        StoreError::Kind::unreadable);  // a row missing
  CHECK(reserve_many_answer(pg_rows({{"1", "10", "1", "3", std::nullopt, std::nullopt}}, 6), {10}).error().kind ==
        StoreError::Kind::unreadable);  // the columns of the statement before sql/012
  CHECK(reserve_many_answer(pg_rows({{std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                                      std::nullopt, "25006", "cannot execute setval() in a read-only transaction"}},
                                    8),
                            {10})
            .error()
            .kind == StoreError::Kind::unreadable);
  CHECK(reserve_many_answer(pg_rows({{"x", "10", "1", "3", std::nullopt, std::nullopt, std::nullopt, std::nullopt}}, 8),
                            {10})
            .error()
            .kind == StoreError::Kind::unreadable);
}

TEST_CASE("several takes: each one's numbers with their period, or its refusal, in order") {
  auto const answer = take_many_answer(
      pg_rows({{std::nullopt, "{7,8,9}", std::nullopt, std::nullopt},
               {std::nullopt, std::nullopt, "2200H", "pez.take: pez.b has 1 numbers left and does not cycle"},
               {std::nullopt, std::nullopt, "42P01", "relation \"pez.c\" does not exist"},
               {std::nullopt, std::nullopt, "22023", "pez.take: pez.d holds 3 numbers before it starts over"},
               {"20300102", "{-5}", std::nullopt, std::nullopt}},
              4),
      {3, 2, 1, 4, 1});
  REQUIRE(answer);
  REQUIRE(answer->size() == 5);
  REQUIRE((*answer)[0].has_value());
  CHECK((*answer)[0]->numbers == std::vector<std::int64_t>{7, 8, 9});
  CHECK((*answer)[0]->period == 0);
  CHECK((*answer)[1].error().kind == StoreError::Kind::exhausted);
  CHECK((*answer)[2].error().kind == StoreError::Kind::not_found);
  CHECK((*answer)[3].error().kind == StoreError::Kind::invalid);
  REQUIRE((*answer)[4].has_value());
  CHECK((*answer)[4]->numbers == std::vector<std::int64_t>{-5});
  CHECK((*answer)[4]->period == 20300102);
}

TEST_CASE("several takes: an answer that cannot be theirs is an internal error and hands out nothing") {
  auto const row = std::vector<std::optional<std::string>>{std::nullopt, "{1,2}", std::nullopt, std::nullopt};
  CHECK(take_many_answer(pg_rows({row}, 4), {2, 2}).error().kind == StoreError::Kind::unreadable);  // a row missing
  CHECK(take_many_answer(pg_rows({row}, 4), {3}).error().kind == StoreError::Kind::unreadable);     // too few numbers
  CHECK(take_many_answer(pg_rows({{std::nullopt, "{1,2}"}}, 2), {2}).error().kind ==
        StoreError::Kind::unreadable);  // the columns of pez.take_dated alone
  CHECK(take_many_answer(pg_rows({{std::nullopt, "{1,x}", std::nullopt, std::nullopt}}, 4), {2}).error().kind ==
        StoreError::Kind::unreadable);
  CHECK(take_many_answer(pg_rows({{"2030", "{1}", std::nullopt, std::nullopt}}, 4), {1}).error().kind ==
        StoreError::Kind::unreadable);  // a period pezd cannot read
  CHECK(take_many_answer(pg_rows({{std::nullopt, std::nullopt, std::nullopt, std::nullopt}}, 4), {1}).error().kind ==
        StoreError::Kind::unreadable);  // neither numbers nor a refusal
  // A refusal of the kind that closes a connection is not one the function lets through.
  CHECK(take_many_answer(
            pg_rows({{std::nullopt, std::nullopt, "25006", "cannot execute nextval() in a read-only transaction"}}, 4),
            {1})
            .error()
            .kind == StoreError::Kind::unreadable);
}
