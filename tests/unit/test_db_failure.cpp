// SPDX-License-Identifier: Apache-2.0
// Failed database connections: libpq's text made one readable line, and the failures that only
// an operator can end (wrong settings) told from those that pass.
#include <doctest/doctest.h>

#include <cstddef>
#include <string>

#include "daemon/db/db_error.hpp"

using pez::daemon::DbError;
using pez::daemon::libpq_text;
using pez::daemon::misconfiguration;

namespace {

DbError connect_failure(char const* libpq_message) {
  auto text = libpq_text(libpq_message);
  return pez::daemon::connect_error(text.text, text.sqlstate);
}

}  // namespace

TEST_CASE("db failure: libpq's lines stay apart, hints in parentheses, verbose parts out") {
  auto two_hosts = libpq_text(
      "connection to server on socket \"/a/.s.PGSQL.5432\" failed: No such file or directory\n"
      "\tIs the server running locally and accepting connections on that socket?\n"
      "connection to server on socket \"/b/.s.PGSQL.5432\" failed: Connection refused\n"
      "\tIs the server running locally and accepting connections on that socket?\n");
  CHECK(two_hosts.text ==
        "connection to server on socket \"/a/.s.PGSQL.5432\" failed: No such file or directory (Is the server running "
        "locally and accepting connections on that socket?); connection to server on socket \"/b/.s.PGSQL.5432\" "
        "failed: Connection refused (Is the server running locally and accepting connections on that socket?)");
  CHECK(two_hosts.sqlstate.empty());

  // Verbose: the SQLSTATE taken out, the LOCATION line left out; a server whose lc_messages is
  // not English names the severity in its language.
  for (auto severity : {"FATAL", "ВАЖНО"}) {
    CAPTURE(severity);
    auto const prefix = std::string("connection to server on socket \"/a/.s.PGSQL.5432\" failed: ") + severity;
    auto verbose = libpq_text(
        (prefix + ":  3D000: database \"x\" does not exist\nLOCATION:  InitPostgres, postinit.c:948\n").c_str());
    CHECK(verbose.text == prefix + ": database \"x\" does not exist");
    CHECK(verbose.sqlstate == "3D000");
  }
  CHECK(libpq_text("").text == "unknown error");
  // Only the shape of a code counts: a colon, five digits or capitals with a digit, a colon.
  for (auto message : {"connection to server at \"db\" (10.0.0.1), port 5432 failed: timeout: 3D00: x: 3D0000: y",
                       "server closed the connection: FATAL: ERROR: PANIC: terminating connection"}) {
    CAPTURE(message);
    auto no_code = libpq_text(message);
    CHECK(no_code.sqlstate.empty());
    CHECK(no_code.text == message);
  }
  CHECK(libpq_text("failed: FATAL:  XX000: internal").sqlstate == "XX000");
}

TEST_CASE("db failure: the server's words without its severity, in any language") {
  using pez::daemon::server_words;
  CHECK(server_words("нет доступа к функции usage_claim", nullptr, nullptr,
                     "ОШИБКА:  нет доступа к функции usage_claim\n") == "нет доступа к функции usage_claim");
  CHECK(server_words("cannot drop sequence x", "default value for column\ny depends on it", "Use DROP ... CASCADE.",
                     "ERROR: ...") ==
        "cannot drop sequence x; default value for column y depends on it; Use DROP ... CASCADE.");
  CHECK(server_words("", "", nullptr, "server closed the connection unexpectedly\n") ==
        "server closed the connection unexpectedly");
  CHECK(server_words(nullptr, nullptr, nullptr, nullptr) == "unknown error");
  // Text that is no UTF-8 (pezd asks for UTF8, but libpq may quote bytes of the settings) is made so.
  CHECK(server_words("keine Berechtigung f\xFCr Funktion usage_claim", nullptr, nullptr, "") ==
        "keine Berechtigung f\xEF\xBF\xBDr Funktion usage_claim");
  // Nor does a control character reach a log line or a terminal (a function raising an escape).
  CHECK(server_words("nicht \x1b[2Jhier\x07", "\x1b]0;x\x07", nullptr, "") ==
        "nicht \xEF\xBF\xBD[2Jhier\xEF\xBF\xBD; \xEF\xBF\xBD]0;x\xEF\xBF\xBD");
}

TEST_CASE("db failure: a text of any length is cut to a line, at a character's start") {
  using pez::daemon::first_line;
  using pez::daemon::k_line_limit;
  std::string const fits(k_line_limit, 'x');
  CHECK(first_line(fits.c_str()) == fits);
  auto const cut = first_line((fits + "y").c_str());
  CHECK(cut == fits + "...");
  // "ü" is two bytes: the one that would be cut through is left out whole.
  std::string const wide = std::string(k_line_limit - 1, 'x') + "\xC3\xBC" + std::string(1000000, 'z');
  CHECK(first_line(wide.c_str()) == std::string(k_line_limit - 1, 'x') + "...");
  std::string const all_wide = [] {
    std::string out;
    for (std::size_t i = 0; i < k_line_limit; ++i) out += "\xC3\xBC";
    return out;
  }();
  auto const half = first_line(all_wide.c_str());
  CHECK(half == all_wide.substr(0, k_line_limit) + "...");
  // Each of a message's parts is cut: the whole stays a few lines' worth.
  std::string const big(1000000, 'm');
  CHECK(pez::daemon::server_words(big.c_str(), big.c_str(), big.c_str(), "").size() < 4 * k_line_limit);
}

TEST_CASE("db failure: wrong settings are told from passing trouble") {
  auto const reason = [](char const* message) { return misconfiguration(connect_failure(message)); };
  CHECK(reason("connection to server on socket \"/a\" failed: FATAL:  3D000: database \"x\" does not exist") ==
        "the database it names does not exist");
  CHECK(reason("connection to server on socket \"/a\" failed: FATAL:  28000: role \"x\" does not exist") ==
        "the role it names does not exist or may not log in");
  // In another language the SQLSTATE still tells wrong settings, less precisely.
  CHECK(reason("connection to server on socket \"/a\" failed: ВАЖНО:  3D000: база данных \"x\" не существует") ==
        "the database it names does not exist");
  CHECK(reason("connection to server on socket \"/a\" failed: ВАЖНО:  28000: роль \"no_such_role\" не существует") ==
        "the server refused its role");
  CHECK(reason("connection to server on socket \"/a\" failed: FATAL:  28000: role \"x\" is not permitted to log in") ==
        "the role it names does not exist or may not log in");
  CHECK(reason("connection to server on socket \"/a\" failed: FATAL:  28000: Peer authentication failed for user "
               "\"app_role\"") == "the server refused its role");
  CHECK(reason("connection to server on socket \"/a\" failed: FATAL:  28P01: Passwort-Authentifizierung für "
               "Benutzer \"pez\" fehlgeschlagen") == "password authentication failed");
  CHECK(reason("connection to server at \"db\" (10.0.0.1), port 5432 failed: FATAL:  28P01: password authentication "
               "failed for user \"pez\"") == "password authentication failed");
  CHECK(reason("connection to server at \"db\" (10.0.0.1), port 5432 failed: FATAL:  28000: no pg_hba.conf entry for "
               "host \"10.0.0.2\", user \"pez\", database \"pez\", no encryption")
            .value()
            .find("pg_hba.conf") != std::string::npos);
  CHECK(reason("connection to server at \"db\" (10.0.0.1), port 5432 failed: fe_sendauth: no password supplied") ==
        "the server asks for a password and none is set");
  CHECK(reason("connection to server at \"db\" (10.0.0.1), port 5432 failed: SSL error: certificate verify failed") ==
        "TLS verification of the server failed");
  CHECK(reason("connection to server at \"db\" (10.0.0.1), port 5432 failed: server certificate for \"x\" does not "
               "match host name \"db\"") == "TLS verification of the server failed");

  // These pass, or may: not the settings' fault.
  for (auto message :
       {"connection to server on socket \"/a\" failed: No such file or directory",
        "connection to server at \"db\" (10.0.0.1), port 5432 failed: Connection refused",
        "connection to server on socket \"/a\" failed: FATAL:  57P03: the database system is starting up",
        "connection to server on socket \"/a\" failed: FATAL:  53300: sorry, too many clients already",
        "could not translate host name \"db\" to address: Temporary failure in name resolution"}) {
    CAPTURE(message);
    CHECK_FALSE(reason(message).has_value());
    CHECK(connect_failure(message).kind == DbError::Kind::lost);
  }
  // The text stays as libpq wrote it; the kind says what it means.
  auto const refused = connect_failure(
      "connection to server on socket \"/a\" failed: FATAL:  3D000: database \"x\" "
      "does not exist");
  CHECK(refused.kind == DbError::Kind::misconfigured);
  CHECK(refused.message == "connection to server on socket \"/a\" failed: FATAL: database \"x\" does not exist");
  CHECK(refused.sqlstate == "3D000");
  // Settings libpq cannot read.
  CHECK(pez::daemon::unreadable_conninfo("invalid sslmode value: \"x\""));
  CHECK(pez::daemon::unreadable_conninfo("missing \"=\" after \"x\" in connection info string"));
  CHECK_FALSE(pez::daemon::unreadable_conninfo("connection to server on socket \"/a\" failed: invalid x"));
  CHECK(misconfiguration(pez::daemon::conninfo_error("invalid port number: \"x\"")) ==
        "libpq cannot read the connection settings");
  // Only connections: a statement's error is another matter.
  CHECK_FALSE(misconfiguration(pez::daemon::statement_error("3D000", "x")).has_value());
}
