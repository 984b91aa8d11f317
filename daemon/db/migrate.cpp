// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/migrate.hpp"

#include <libpq-fe.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/count.hpp"
#include "common/errors.hpp"
#include "daemon/db/db_error.hpp"
#include "daemon/db/migrations.hpp"
#include "daemon/db/pg_connection.hpp"

#ifndef PEZ_SQL_DIR
#define PEZ_SQL_DIR "/usr/share/pez/sql"
#endif

namespace pez::daemon {
namespace {

struct PgFinish {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, PgFinish>;

int fail(int code, std::string const& message) {
  std::fprintf(stderr, "pezd migrate: error: %s\n", message.c_str());
  return code;
}

// One statement's single value, or its error.
struct Answer {
  bool ok = false;
  std::string value;
  DbError error;
};

Answer ask(PGconn* conn, std::string const& sql) {
  PgResult result(PQexec(conn, sql.c_str()));
  Answer out;
  auto const status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    out.error = result_error(result.get());
    return out;
  }
  out.ok = true;
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 && !PQgetisnull(result.get(), 0, 0)) {
    out.value = PQgetvalue(result.get(), 0, 0);
  }
  return out;
}

}  // namespace

int migrate_schema(Config const& config) {
  std::vector<char const*> keys;
  std::vector<char const*> values;
  auto const params = config.conn_params();
  for (auto const& [key, value] : params) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Conn conn(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return fail(k_exit_no_daemon,
                "cannot connect to the database: " + first_line(conn ? PQerrorMessage(conn.get()) : "out of memory") +
                    "; check database_url and the db_* settings (pezd --print-config)");
  }
  PQsetNoticeProcessor(
      conn.get(), [](void*, char const*) {}, nullptr);  // NOTICE: ... exists, skipping
  auto const where = ask(conn.get(), "SELECT current_user || ' on ' || current_database()").value;
  if (ask(conn.get(), "SELECT pg_is_in_recovery()").value == "t") {
    return fail(k_exit_failure, "the server is in recovery (a standby): run pezd migrate against the primary");
  }
  auto const usable = ask(conn.get(),
                          "SELECT has_schema_privilege(oid, 'USAGE') FROM pg_catalog.pg_namespace "
                          "WHERE nspname = 'pez'");
  if (usable.value == "f") {
    return fail(k_exit_denied,
                "schema pez exists, and " + where + " may not use it: run pezd migrate as the role that owns it");
  }
  auto const exists = ask(conn.get(),
                          "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                          " ON n.oid = c.relnamespace WHERE n.nspname = 'pez' AND c.relname = 'schema_migrations')");
  int version = 0;
  if (exists.value == "t") {
    auto const current = ask(conn.get(), "SELECT coalesce(max(version), 0) FROM pez.schema_migrations");
    if (!current.ok) {
      return fail(current.error.kind == DbError::Kind::denied ? k_exit_denied : k_exit_failure,
                  "cannot read pez.schema_migrations as " + where + ": " + current.error.message);
    }
    version = static_cast<int>(parse_int64(current.value).value_or(0));
  }
  std::string applied;
  for (auto const& migration : migrations()) {
    if (migration.version <= version) continue;
    auto const done = ask(conn.get(), std::string(migration.sql));
    if (!done.ok) {
      if (done.error.kind == DbError::Kind::denied) {
        return fail(k_exit_denied, "cannot apply sql/" + std::string(migration.file) + " as " + where + ": " +
                                       done.error.message +
                                       "; run pezd migrate as a role that may create schema pez in this database "
                                       "(its owner, or one granted CREATE on it)");
      }
      return fail(k_exit_failure,
                  "cannot apply sql/" + std::string(migration.file) + " as " + where + ": " + done.error.message);
    }
    version = migration.version;
    applied += (applied.empty() ? "" : ", ") + std::string(migration.file);
  }
  if (applied.empty()) {
    std::printf("pezd migrate: schema pez is at version %d already (%s)\n", version, where.c_str());
  } else {
    std::printf("pezd migrate: schema pez is at version %d (%s): applied %s\n", version, where.c_str(),
                applied.c_str());
  }
  return k_exit_ok;
}

}  // namespace pez::daemon
