// SPDX-License-Identifier: Apache-2.0
// A statement's failure classified once into a kind, from its SQLSTATE, and what the store makes
// of each kind (classify, closes_connection): the messages stay as the server wrote them.
#include <doctest/doctest.h>

#include "daemon/db/db_answers.hpp"
#include "daemon/db/db_error.hpp"

using pez::daemon::DbError;
using pez::daemon::StoreError;

namespace {

struct Case {
  char const* sqlstate;
  char const* message;
  DbError::Kind kind;
  StoreError::Kind store;
  char const* store_message;
  bool closes;
};

}  // namespace

TEST_CASE("db error: a statement's SQLSTATE gives its kind, the messages unchanged") {
  using K = DbError::Kind;
  using S = StoreError::Kind;
  Case const cases[] = {
      {"25006", "ERROR:  cannot execute nextval() in a read-only transaction", K::read_only, S::lost,
       "the server became read-only (a standby?): cannot execute nextval() in a read-only transaction", true},
      {"01000", "ERROR:  raised as a warning", K::untrusted, S::lost, "raised as a warning", true},
      {"42P01", "ERROR:  relation \"pez.x\" does not exist", K::not_found, S::not_found,
       "relation \"pez.x\" does not exist", false},
      {"42809", "ERROR:  \"x\" is not a sequence", K::not_found, S::not_found, "\"x\" is not a sequence", false},
      {"3F000", "ERROR:  schema \"pez\" does not exist", K::not_found, S::not_found, "schema \"pez\" does not exist",
       false},
      {"2200H", "ERROR:  nextval: reached maximum value of sequence \"x\" (9) CONTEXT: PL/pgSQL function", K::exhausted,
       S::exhausted, "nextval: reached maximum value of sequence \"x\" (9)", false},
      {"XX000", "ERROR:  could not open relation with OID 16384", K::not_found, S::not_found,
       "could not open relation with OID 16384", false},
      {"XX000", "ERROR:  cache lookup failed CONTEXT: could not open relation with OID 1", K::failed, S::internal,
       "cache lookup failed (SQLSTATE XX000)", false},
      {"22023", "ERROR:  count must be positive", K::invalid, S::invalid, "count must be positive", false},
      {"42P07", "ERROR:  relation \"x\" already exists", K::exists, S::exists, "relation \"x\" already exists", false},
      {"55006", "ERROR:  cannot drop x", K::in_use, S::in_use, "cannot drop x", false},
      {"42501", "ERROR:  permission denied for schema pez", K::denied, S::denied, "permission denied for schema pez",
       false},
      {"40001", "ERROR:  could not serialize access", K::failed, S::internal,
       "could not serialize access (SQLSTATE 40001)", false},
      {"", "FATAL:  something odd", K::failed, S::internal, "something odd", false},
  };
  for (auto const& c : cases) {
    CAPTURE(c.sqlstate);
    CAPTURE(c.message);
    auto const error = pez::daemon::statement_error(c.sqlstate, c.message);
    CHECK(error.kind == c.kind);
    CHECK(error.message == c.message);
    CHECK(error.sqlstate == c.sqlstate);
    CHECK(error.answered());
    auto const store = pez::daemon::classify(error);
    CHECK(store.kind == c.store);
    CHECK(store.message == c.store_message);
    CHECK(pez::daemon::closes_connection(error) == c.closes);
  }
}

TEST_CASE("db error: a warning is a kind of its own, and the connection is not trusted") {
  auto const warned = pez::daemon::warning_error("WARNING: canceling wait for synchronous replication");
  CHECK(warned.kind == DbError::Kind::untrusted);
  CHECK(warned.sqlstate.empty());
  CHECK(warned.answered());
  auto const store = pez::daemon::classify(warned);
  CHECK(store.kind == StoreError::Kind::lost);
  CHECK(store.message == "the database warned: WARNING: canceling wait for synchronous replication");
  CHECK(pez::daemon::closes_connection(warned));
}

TEST_CASE("db error: a broken or silent connection is lost or timed out") {
  DbError const lost{DbError::Kind::lost, "server closed the connection unexpectedly", {}, {}};
  DbError const timeout{DbError::Kind::timeout, "the database did not answer within 5s", {}, {}};
  DbError const refused = pez::daemon::connect_error("FATAL: database \"x\" does not exist", "3D000");
  for (auto const* error : {&lost, &timeout, &refused}) {
    CAPTURE(error->message);
    CHECK_FALSE(error->answered());
    CHECK(pez::daemon::closes_connection(*error));
    auto const store = pez::daemon::classify(*error);
    CHECK(store.message == error->message);
    CHECK(store.kind == (error == &timeout ? StoreError::Kind::timeout : StoreError::Kind::lost));
  }
}
