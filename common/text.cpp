// SPDX-License-Identifier: Apache-2.0
#include "common/text.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pez {
namespace {

constexpr std::size_t k_quote_limit = 64;
constexpr std::array<char, 16> k_hex{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
constexpr std::string_view k_replacement = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

// The length of the well-formed UTF-8 character text starts with, or 0 (RFC 3629, table 3-7
// of the Unicode standard: the second byte's range depends on the first).
std::size_t utf8_length(std::string_view text) {
  auto const byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  auto const first = byte(0);
  if (first < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (first >= 0xc2 && first <= 0xdf) {
    length = 2;
  } else if (first >= 0xe0 && first <= 0xef) {
    length = 3;
    if (first == 0xe0) low = 0xa0;   // no overlong form
    if (first == 0xed) high = 0x9f;  // no surrogate
  } else if (first >= 0xf0 && first <= 0xf4) {
    length = 4;
    if (first == 0xf0) low = 0x90;   // no overlong form
    if (first == 0xf4) high = 0x8f;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

// Takes the character text starts with off it and gives it, or takes one byte and gives nothing
// where text starts with no well-formed UTF-8 character.
std::string_view take_character(std::string_view& text) {
  auto const length = utf8_length(text);
  auto const character = text.substr(0, length);
  text.remove_prefix(length == 0 ? 1 : length);
  return character;
}

// Whether the one character held by character (valid UTF-8) is a control: C0, DEL or C1 (U+0080
// to U+009F, which a terminal may read as the start of an escape sequence too).
bool is_control(std::string_view character) {
  auto const first = static_cast<unsigned char>(character[0]);
  if (character.size() == 1) return first < 0x20 || first == 0x7f;
  return character.size() == 2 && first == 0xc2 && static_cast<unsigned char>(character[1]) < 0xa0;
}

}  // namespace

std::string quote_untrusted(std::string_view text) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown == k_quote_limit) {
      out += "...";
      break;
    }
    ++shown;
    auto const u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void append_json_escaped(std::string& out, std::string_view text) {
  while (!text.empty()) {
    auto const c = text.front();
    auto const u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      // JSON is UTF-8 (RFC 8259): a byte of another encoding (a row of a SQL_ASCII database
      // written by hand) is U+FFFD, not passed on to make the whole answer unreadable.
      auto const character = take_character(text);
      out += character.empty() ? k_replacement : character;
      continue;
    }
    text.remove_prefix(1);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out += k_hex[u >> 4];
          out += k_hex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
}

void append_printable(std::string& out, std::string_view text) {
  while (!text.empty()) {
    auto const character = take_character(text);
    out += character.empty() || is_control(character) ? k_replacement : character;
  }
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_printable(out, text);
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  append_json_escaped(out, text);
  out += '"';
  return out;
}

std::string_view trim(std::string_view text) {
  auto const first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto const last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    auto const at = text.find(sep, start);
    if (at == std::string_view::npos) {
      fields.push_back(text.substr(start));
      return fields;
    }
    fields.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

}  // namespace pez
