// SPDX-License-Identifier: Apache-2.0
// The pezd socket protocol, version 1: one request per line, one answer per line (pezd(8)).
//
//   request  = verb *( SP argument ) LF          verbs are case-insensitive
//   answer   = "OK" [ SP payload ] LF  /  "ERR" SP code SP message LF
//
// Both sides use this file: pezd to parse requests and write answers, pez to write requests and
// read answers, so the two cannot disagree on the format.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/errors.hpp"
#include "common/format.hpp"

namespace pez::proto {

inline constexpr int k_version = 1;
// Where pezd listens and pez connects unless told otherwise (setting socket, pez --socket).
inline constexpr char const k_default_socket_path[] = "/run/pez/pezd.sock";
inline constexpr std::size_t k_default_line_limit = 1024;

// HELLO V: the client speaks this pezd's protocol version (another is refused when parsed).
struct Hello {
  bool operator==(Hello const&) const = default;
};
struct Next {
  std::string name;
  std::uint32_t count;
  bool json = false;  // NEXT NAME N json: the answer is the /v2 JSON list (strings for a formatted sequence)
  bool operator==(Next const&) const = default;
};
// CHECK NAME VALUE: whether VALUE is a number NAME's format can print (its check characters
// right). Answers OK valid, or OK invalid: REASON.
struct Check {
  std::string name;
  std::string value;
  bool operator==(Check const&) const = default;
};
struct Ping {
  bool operator==(Ping const&) const = default;
};
struct Status {
  bool operator==(Status const&) const = default;
};
struct Quit {
  bool operator==(Quit const&) const = default;
};
// Administration (pez admin): only for peers pezd trusts, see pezd(8).
struct List {
  bool operator==(List const&) const = default;
};
struct Inspect {
  std::string name;
  bool operator==(Inspect const&) const = default;
};
struct Create {
  std::string spec;  // a JSON object: {"name": ..., "start": ..., ...}
  bool operator==(Create const&) const = default;
};
struct Reset {
  std::string name;
  std::optional<std::int64_t> to;
  bool operator==(Reset const&) const = default;
};
struct Drop {
  std::string name;
  bool operator==(Drop const&) const = default;
};

using Request = std::variant<Hello, Next, Ping, Status, Quit, List, Inspect, Create, Reset, Drop, Check>;

// Whether a request administers sequences (and needs an admin peer).
bool is_admin(Request const& request);

// A line with bytes no person or client would send (NUL, other control bytes but tab).
bool has_control_bytes(std::string_view line);

// Parses one request line (without its LF; a trailing CR is ignored). Counts above max_count,
// bad names, unknown verbs and wrong arguments are bad_request errors that say what is allowed.
std::expected<Request, Error> parse_request(std::string_view line, std::uint32_t max_count);

// Answers, each ending in LF.
void append_ok(std::string& out, std::string_view payload = {});
void append_ok_numbers(std::string& out, std::span<std::int64_t const> values);
// A formatted sequence's numbers as its template prints them (printing_problem found nothing).
void append_ok_numbers(std::string& out, std::span<std::int64_t const> values, Printing const& printing);
void append_error(std::string& out, Errc code, std::string_view message);

// Requests, as a client writes them, each ending in LF; parse_request reads each back as the
// request it was made from.
std::string hello_line();
std::string next_line(std::string_view name, std::uint32_t count, bool json = false);
std::string check_line(std::string_view name, std::string_view value);
std::string ping_line();
std::string status_line();
std::string quit_line();
std::string list_line();
std::string inspect_line(std::string_view name);
// spec: the JSON object of common/admin.hpp, on one line.
std::string create_line(std::string_view spec);
std::string reset_line(std::string_view name, std::optional<std::int64_t> to = std::nullopt);
std::string drop_line(std::string_view name);
// Any request, by the builder of its verb.
std::string request_line(Request const& request);

// Reads one answer line (without LF): the payload of an OK, or the error of an ERR.
std::expected<std::string_view, Error> parse_answer(std::string_view line);

// Reads the payload of an OK answer to NEXT.
std::expected<std::vector<std::int64_t>, Error> parse_numbers(std::string_view payload);
// The same as words: bare numbers, or a formatted sequence's strings.
std::vector<std::string_view> answer_words(std::string_view payload);

}  // namespace pez::proto
