// SPDX-License-Identifier: Apache-2.0
// Small text helpers: quoting untrusted input for messages, JSON strings, splitting, trimming.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pez {

// Wraps untrusted text in double quotes for an error message: control bytes, quotes and
// non-ASCII bytes are escaped and anything past 64 bytes is cut, so a message stays one line.
std::string quote_untrusted(std::string_view text);

// Appends text as the inside of a JSON string (without the surrounding quotes), in UTF-8: each
// byte that belongs to no well-formed UTF-8 character becomes U+FFFD.
void append_json_escaped(std::string& out, std::string_view text);

// Returns text as a complete JSON string literal.
std::string json_string(std::string_view text);

std::string_view trim(std::string_view text);

// Appends text as UTF-8 that is valid and can be shown: each byte that does not belong to a
// well-formed UTF-8 character (a stray continuation, a truncated or overlong sequence, a
// surrogate, past U+10FFFF) and each control character (C0, DEL, C1) becomes U+FFFD, so that
// text from the database (a server's Latin-1, an escape sequence written into a row by hand)
// cannot make a journal line unreadable or drive an operator's terminal.
void append_printable(std::string& out, std::string_view text);
std::string printable(std::string_view text);

// Splits on every occurrence of sep; empty fields are kept.
std::vector<std::string_view> split(std::string_view text, char sep);

}  // namespace pez
