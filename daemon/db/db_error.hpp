// SPDX-License-Identifier: Apache-2.0
// A failed exchange with PostgreSQL, classified once where libpq reports it (pg_connection.cpp,
// migrate.cpp): the kind says what it means to pezd, so that no one else compares SQLSTATEs or
// libpq's words. Nothing here talks to a server; the unit tests feed it texts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pez::daemon {

struct DbError {
  enum class Kind : std::uint8_t {
    // No connection: it broke, or never came up. It must be reopened.
    lost,           // for a reason that may pass: the server is down, starting, full, unreachable
    misconfigured,  // opening it failed, and will until the settings or the server's accounts change
    timeout,        // the server did not answer in time; the connection was closed
    // The server answered the statement with an error (or a warning); the connection is open.
    untrusted,  // the exchange drew a warning: whatever it did is not trusted
    read_only,  // the server refused to write: a standby now
    not_found,  // no such sequence (or schema)
    exhausted,  // a sequence without cycle has fewer numbers left than asked for
    invalid,    // the server refused the arguments
    exists,     // the name is taken
    in_use,     // the object may not be changed that way
    denied,     // the role may not do this
    failed,     // anything else
  };
  Kind kind = Kind::lost;
  std::string message;   // one line, as libpq or the server wrote it
  std::string sqlstate;  // the server's code, when it sent one
  // A misconfigured connection's reason, short and without names or paths, for clients.
  std::string reason;

  // The server answered the statement: the connection is still open (until pezd closes it).
  bool answered() const { return kind != Kind::lost && kind != Kind::misconfigured && kind != Kind::timeout; }
};

// The kind of an error the server answered a statement with, from its SQLSTATE (and message).
DbError::Kind statement_error_kind(std::string_view sqlstate, std::string_view message);
// An error the server answered a statement with: its SQLSTATE and message, classified.
DbError statement_error(std::string sqlstate, std::string message);
// A warning the server sent during an exchange (message: its text).
DbError warning_error(std::string const& message);
// A failed attempt to open a connection: libpq's text (libpq_text) and the SQLSTATE of the
// server's refusal, if any. Misconfigured when it cannot succeed until the settings (or the
// server's accounts) are changed: no such database or role, authentication or TLS verification
// failed. Lost for failures that may pass.
DbError connect_error(std::string message, std::string sqlstate);
// A connection whose settings libpq cannot read (misconfigured): libpq's text.
DbError conninfo_error(std::string message);
// Whether libpq's text of a connection it could not even start says that it cannot read the
// settings.
bool unreadable_conninfo(std::string_view text);

// Why a failed connection cannot succeed until pezd's database settings are changed, or nothing
// for failures that may pass (the reason of a misconfigured error).
std::optional<std::string> misconfiguration(DbError const& error);

// The most of one text of the server or libpq that first_line keeps: a server's own messages
// and details are far shorter.
inline constexpr std::size_t k_line_limit = 4096;

// message on one line (line breaks and tabs as single spaces), valid UTF-8 without control
// characters, cut to k_line_limit bytes (then "..." ends it).
std::string first_line(char const* message);

// The words of an error or notice the server sent, on one line: its message, then its detail and
// hint, without the severity before them or the PL/pgSQL context after them, which the server
// writes in its own language (lc_messages: "FEHLER:", "ОШИБКА:"). The fields are libpq's
// PG_DIAG_MESSAGE_PRIMARY, _DETAIL and _HINT; whole, PQresultErrorMessage, serves when there is
// no message field (an error libpq made itself).
std::string server_words(char const* message, char const* detail, char const* hint, char const* whole);

// libpq's text of a failed connection as one line a log can show: each failed host's line
// apart ("; "), its hint in parentheses, the SQLSTATE of a verbose server message taken out
// into sqlstate and its LOCATION line left out.
struct LibpqText {
  std::string text;
  std::string sqlstate;
};
LibpqText libpq_text(char const* message);

}  // namespace pez::daemon
