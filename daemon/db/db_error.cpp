// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/db_error.hpp"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "common/text.hpp"

namespace pez::daemon {

namespace {

// The reason a refused connection cannot succeed until the settings change, or "".
std::string refusal_reason(std::string_view state, std::string_view message) {
  auto const says = [&](std::string_view words) { return message.find(words) != std::string_view::npos; };
  if (state == "3D000") return "the database it names does not exist";
  if (state == "28P01") return "password authentication failed";
  if (state == "28000") {
    if (says("pg_hba.conf")) return "the server's pg_hba.conf has no entry that lets its role connect";
    // English words, where the server speaks English (role "x" does not exist, or is not
    // permitted to log in); the role's own name may hold "role".
    if (says("role \"")) return "the role it names does not exist or may not log in";
    return "the server refused its role";
  }
  if (state == "42501") return "its role may not connect to the database";
  // Refusals of the client itself (libpq's own words, in the C locale pezd runs in).
  if (says("no password supplied") || says("password is required"))
    return "the server asks for a password and none is set";
  if (says("certificate verify failed") || says("server certificate for") || says("root certificate file") ||
      says("does not match host name")) {
    return "TLS verification of the server failed";
  }
  if (says("server does not support SSL")) return "the server does not offer TLS, which the settings require";
  return {};
}

}  // namespace

DbError::Kind statement_error_kind(std::string_view sqlstate, std::string_view message) {
  using Kind = DbError::Kind;
  if (sqlstate == "25006") return Kind::read_only;
  // An error raised with the SQLSTATE of a warning counts as one.
  if (sqlstate == "01000") return Kind::untrusted;
  if (sqlstate == "42P01" || sqlstate == "42809" || sqlstate == "3F000") return Kind::not_found;
  if (sqlstate == "2200H") return Kind::exhausted;
  // A statement that found a sequence and then met it dropped (before version 5 took care); the
  // words count in the server's sentence, not in the PL/pgSQL context after it.
  if (sqlstate == "XX000" &&
      message.substr(0, message.find("CONTEXT:")).find("could not open relation with OID") != std::string_view::npos) {
    return Kind::not_found;
  }
  if (sqlstate == "22023") return Kind::invalid;
  if (sqlstate == "42P07") return Kind::exists;
  if (sqlstate == "55006") return Kind::in_use;
  if (sqlstate == "42501") return Kind::denied;
  return Kind::failed;
}

DbError statement_error(std::string sqlstate, std::string message) {
  auto const kind = statement_error_kind(sqlstate, message);
  return DbError{kind, std::move(message), std::move(sqlstate), {}};
}

DbError warning_error(std::string const& message) {
  return DbError{DbError::Kind::untrusted, "the database warned: " + message, {}, {}};
}

DbError connect_error(std::string message, std::string sqlstate) {
  auto reason = refusal_reason(sqlstate, message);
  auto const kind = reason.empty() ? DbError::Kind::lost : DbError::Kind::misconfigured;
  return DbError{kind, std::move(message), std::move(sqlstate), std::move(reason)};
}

DbError conninfo_error(std::string message) {
  return DbError{DbError::Kind::misconfigured, std::move(message), {}, "libpq cannot read the connection settings"};
}

bool unreadable_conninfo(std::string_view text) {
  return std::ranges::any_of(
      std::initializer_list<std::string_view>{"invalid ", "missing \"=\"", "unterminated quoted string",
                                              "extra key/value separator", "end of string reached"},
      [text](std::string_view start) { return text.starts_with(start); });
}

std::optional<std::string> misconfiguration(DbError const& error) {
  if (error.kind != DbError::Kind::misconfigured) return std::nullopt;
  return error.reason;
}

LibpqText libpq_text(char const* message) {
  LibpqText out;
  std::string_view rest = message ? message : "";
  while (!rest.empty()) {
    auto const end = rest.find('\n');
    auto line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    bool const hint = line.starts_with('\t');
    std::string text = first_line(std::string(line).c_str());
    if (line.find_first_not_of(" \t\r") == std::string_view::npos || text.starts_with("LOCATION:")) continue;
    // Verbose: "FATAL:  3D000: database ..." holds the SQLSTATE, which the reader need not see.
    // The severity is in the server's language (lc_messages: "ВАЖНО:  3D000: ..."), so the code
    // is found by its shape, not by the word: after a colon, five digits or capitals with a digit
    // among them (every SQLSTATE has one; FATAL and ERROR have none), then a colon.
    for (std::size_t at = text.find(": "); at != std::string::npos; at = text.find(": ", at + 1)) {
      auto const code = at + 2;
      if (text.size() < code + 7 || text.compare(code + 5, 2, ": ") != 0) continue;
      auto const state = std::string_view(text).substr(code, 5);
      auto const digit = [](char c) { return c >= '0' && c <= '9'; };
      if (!std::ranges::all_of(state, [&](char c) { return digit(c) || (c >= 'A' && c <= 'Z'); }) ||
          !std::ranges::any_of(state, digit))
        continue;
      if (out.sqlstate.empty()) out.sqlstate = state;
      text.erase(code, 7);
    }
    if (out.text.empty()) {
      out.text = text;
    } else if (hint) {
      out.text += " (" + text + ")";
    } else {
      out.text += "; " + text;
    }
  }
  if (out.text.empty()) out.text = "unknown error";
  return out;
}

std::string server_words(char const* message, char const* detail, char const* hint, char const* whole) {
  if (message == nullptr || *message == '\0') return first_line(whole);
  std::string text = first_line(message);
  for (char const* more : {detail, hint}) {
    if (more != nullptr && *more != '\0') text += "; " + first_line(more);
  }
  return text;
}

std::string first_line(char const* message) {
  // libpq's messages span lines ("connection to server ... failed: reason", then hints, indented
  // with tabs); a log line or an answer wants them as one line with single spaces, in UTF-8
  // (pezd asks the server for UTF8, but takes a SQL_ASCII database's bytes as they are stored,
  // and libpq may quote a byte of the settings: whatever is not UTF-8 is made so) and without
  // control characters (a function changed by hand may raise an escape sequence).
  std::string text;
  bool space = false;
  for (char const* p = message ? message : ""; *p != '\0'; ++p) {
    if (*p == '\n' || *p == '\t' || *p == ' ' || *p == '\r') {
      space = !text.empty();
    } else {
      if (space) text += ' ';
      space = false;
      text += *p;
    }
  }
  if (text.empty()) return "unknown error";
  auto shown = printable(text);
  if (shown.size() > k_line_limit) {
    // A function changed by hand may raise a message of any length (a megabyte in one log
    // line, one answer): cut, at a character's start.
    auto cut = k_line_limit;
    while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xc0) == 0x80) --cut;
    shown.resize(cut);
    shown += "...";
  }
  return shown;
}

}  // namespace pez::daemon
