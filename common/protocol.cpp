// SPDX-License-Identifier: Apache-2.0
#include "common/protocol.hpp"

#include <algorithm>
#include <type_traits>

#include "common/count.hpp"
#include "common/format.hpp"
#include "common/names.hpp"
#include "common/text.hpp"

namespace pez::proto {
namespace {

constexpr std::string_view k_verbs = "HELLO, NEXT, CHECK, STATUS, PING, QUIT, LIST, INSPECT, CREATE, RESET and DROP";

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    auto const lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::vector<std::string_view> tokens(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    auto const start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::unexpected<Error> bad(std::string message) {
  return std::unexpected(Error{Errc::bad_request, std::move(message)});
}

void append_one_line(std::string& out, std::string_view text) {
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
}

// "VERB ARGUMENT\n"
std::string verb_line(std::string_view verb, std::string_view argument) {
  std::string out(verb);
  out += ' ';
  out += argument;
  out += '\n';
  return out;
}

using Args = std::vector<std::string_view>;

// NEXT NAME [COUNT] [json]
std::expected<Request, Error> parse_next(Args const& args, std::uint32_t max_count) {
  bool const json = args.size() >= 3 && iequals(args.back(), "json");
  auto const words = args.size() - (json ? 1 : 0);
  if (words < 2 || words > 3) {
    return bad("NEXT takes a sequence name, an optional count and an optional json, as in: NEXT forward 5");
  }
  if (auto ok = check_sequence_name(args[1]); !ok) return bad(ok.error());
  std::uint32_t count = 1;
  if (words == 3) {
    auto parsed = parse_count(args[2], max_count);
    if (!parsed) return bad(parsed.error());
    count = *parsed;
  }
  return Next{std::string(args[1]), count, json};
}

// CHECK NAME VALUE
std::expected<Request, Error> parse_check(Args const& args) {
  if (args.size() != 3) {
    return bad("CHECK takes a sequence name and the value to check, as in: CHECK invoices INV-2026-000042-7");
  }
  if (auto ok = check_sequence_name(args[1]); !ok) return bad(ok.error());
  return Check{std::string(args[1]), std::string(args[2])};
}

// HELLO VERSION
std::expected<Request, Error> parse_hello(Args const& args) {
  std::uint64_t version = 0;
  if (args.size() != 2 || !parse_decimal(args[1], version) || version > 1'000'000) {
    return bad("HELLO takes the protocol version the client speaks, as in: HELLO 1");
  }
  if (version != static_cast<std::uint64_t>(k_version)) {
    return std::unexpected(Error{Errc::unsupported_version, "this pezd speaks protocol version " +
                                                                std::to_string(k_version) + ", the client asked for " +
                                                                std::to_string(version) +
                                                                "; use a pez of the same release as pezd"});
  }
  return Hello{};
}

// A request of one word, such as PING.
template <typename Verb>
std::expected<Request, Error> no_args(Args const& args, std::string_view name) {
  if (args.size() != 1) return bad(std::string(name) + " takes no arguments");
  return Verb{};
}

// A request of a verb and a sequence's name, such as INSPECT forward.
template <typename Verb>
std::expected<Request, Error> one_name(Args const& args, std::string_view name, std::string_view example) {
  if (args.size() != 2) return bad(std::string(name) + " takes one sequence name, as in: " + std::string(example));
  if (auto ok = check_sequence_name(args[1]); !ok) return bad(ok.error());
  return Verb{std::string(args[1])};
}

// RESET NAME [TO]
std::expected<Request, Error> parse_reset(Args const& args) {
  if (args.size() < 2 || args.size() > 3) {
    return bad("RESET takes a sequence name and an optional value to restart at, as in: RESET tickets 1000");
  }
  if (auto ok = check_sequence_name(args[1]); !ok) return bad(ok.error());
  Reset reset{std::string(args[1]), std::nullopt};
  if (args.size() == 3) {
    auto const to = parse_int64(args[2]);
    if (!to || *to < 1) {
      return bad("RESET: the value to restart at is a whole number from 1 to 9223372036854775807, got " +
                 quote_untrusted(args[2]));
    }
    reset.to = *to;
  }
  return reset;
}

// CREATE {JSON}: the rest of the line after the verb, its blanks trimmed.
std::expected<Request, Error> parse_create(std::string_view line, Args const& args) {
  auto rest = line.substr(static_cast<std::size_t>(args[0].data() + args[0].size() - line.data()));
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (!rest.starts_with('{') || !rest.ends_with('}')) {
    return bad(
        R"(CREATE takes a JSON object describing the sequence, as in: CREATE {"name": "tickets", "start": 1000})");
  }
  return Create{std::string(rest)};
}

}  // namespace

bool has_control_bytes(std::string_view line) {
  return std::ranges::any_of(line, [](char c) {
    auto const u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t' && c != '\r') || u == 0x7f;
  });
}

std::expected<Request, Error> parse_request(std::string_view line, std::uint32_t max_count) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (has_control_bytes(line)) return bad("request contains control bytes; send text lines");
  auto const args = tokens(line);
  if (args.empty()) return bad(std::string("empty request; the requests are ") + std::string(k_verbs));
  auto const verb = args[0];
  if (iequals(verb, "NEXT")) return parse_next(args, max_count);
  if (iequals(verb, "CHECK")) return parse_check(args);
  if (iequals(verb, "HELLO")) return parse_hello(args);
  if (iequals(verb, "PING")) return no_args<Ping>(args, "PING");
  if (iequals(verb, "STATUS")) return no_args<Status>(args, "STATUS");
  if (iequals(verb, "LIST")) return no_args<List>(args, "LIST");
  if (iequals(verb, "INSPECT")) return one_name<Inspect>(args, "INSPECT", "INSPECT forward");
  if (iequals(verb, "DROP")) return one_name<Drop>(args, "DROP", "DROP tickets");
  if (iequals(verb, "RESET")) return parse_reset(args);
  if (iequals(verb, "CREATE")) return parse_create(line, args);
  if (iequals(verb, "QUIT")) return no_args<Quit>(args, "QUIT");
  return bad("unknown request " + quote_untrusted(verb) + "; the requests are " + std::string(k_verbs));
}

bool is_admin(Request const& request) {
  return std::holds_alternative<List>(request) || std::holds_alternative<Inspect>(request) ||
         std::holds_alternative<Create>(request) || std::holds_alternative<Reset>(request) ||
         std::holds_alternative<Drop>(request);
}

void append_ok(std::string& out, std::string_view payload) {
  out += "OK";
  if (!payload.empty()) {
    out += ' ';
    append_one_line(out, payload);
  }
  out += '\n';
}

void append_ok_numbers(std::string& out, std::span<std::int64_t const> values) {
  out += "OK";
  for (auto v : values) {
    out += ' ';
    append_decimal(out, v);
  }
  out += '\n';
}

void append_ok_numbers(std::string& out, std::span<std::int64_t const> values, Printing const& printing) {
  out += "OK";
  append_rendered_words(out, printing, values);
  out += '\n';
}

void append_error(std::string& out, Errc code, std::string_view message) {
  out += "ERR ";
  out += errc_token(code);
  out += ' ';
  append_one_line(out, message.empty() ? std::string_view("error") : message);
  out += '\n';
}

std::string hello_line() { return "HELLO " + std::to_string(k_version) + "\n"; }

std::string next_line(std::string_view name, std::uint32_t count, bool json) {
  std::string out = "NEXT ";
  out += name;
  out += ' ';
  out += std::to_string(count);
  if (json) out += " json";
  out += '\n';
  return out;
}

std::string check_line(std::string_view name, std::string_view value) {
  std::string out = "CHECK ";
  out += name;
  out += ' ';
  out += value;
  out += '\n';
  return out;
}

std::string ping_line() { return "PING\n"; }
std::string status_line() { return "STATUS\n"; }
std::string quit_line() { return "QUIT\n"; }
std::string list_line() { return "LIST\n"; }
std::string inspect_line(std::string_view name) { return verb_line("INSPECT", name); }
std::string create_line(std::string_view spec) { return verb_line("CREATE", spec); }
std::string drop_line(std::string_view name) { return verb_line("DROP", name); }

std::string reset_line(std::string_view name, std::optional<std::int64_t> to) {
  std::string out = "RESET ";
  out += name;
  if (to) {
    out += ' ';
    append_decimal(out, *to);
  }
  out += '\n';
  return out;
}

std::string request_line(Request const& request) {
  return std::visit(
      [](auto const& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, Hello>) {
          return hello_line();
        } else if constexpr (std::is_same_v<T, Next>) {
          return next_line(r.name, r.count, r.json);
        } else if constexpr (std::is_same_v<T, Check>) {
          return check_line(r.name, r.value);
        } else if constexpr (std::is_same_v<T, Ping>) {
          return ping_line();
        } else if constexpr (std::is_same_v<T, Status>) {
          return status_line();
        } else if constexpr (std::is_same_v<T, Quit>) {
          return quit_line();
        } else if constexpr (std::is_same_v<T, List>) {
          return list_line();
        } else if constexpr (std::is_same_v<T, Inspect>) {
          return inspect_line(r.name);
        } else if constexpr (std::is_same_v<T, Create>) {
          return create_line(r.spec);
        } else if constexpr (std::is_same_v<T, Reset>) {
          return reset_line(r.name, r.to);
        } else {
          static_assert(std::is_same_v<T, Drop>);
          return drop_line(r.name);
        }
      },
      request);
}

std::vector<std::string_view> answer_words(std::string_view payload) { return tokens(payload); }

std::expected<std::string_view, Error> parse_answer(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line == "OK") return std::string_view{};
  if (line.starts_with("OK ")) return line.substr(3);
  if (line.starts_with("ERR ")) {
    auto const rest = line.substr(4);
    auto const space = rest.find(' ');
    auto const token = rest.substr(0, space);
    auto const message = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (auto code = errc_from_token(token)) return std::unexpected(Error{*code, std::string(message)});
    return std::unexpected(Error{
        Errc::internal, "pezd answered an unknown error " + quote_untrusted(token) + ": " + std::string(message)});
  }
  return std::unexpected(Error{Errc::internal, "pezd sent an answer this pez cannot read: " + quote_untrusted(line)});
}

std::expected<std::vector<std::int64_t>, Error> parse_numbers(std::string_view payload) {
  std::vector<std::int64_t> values;
  for (auto token : tokens(payload)) {
    auto const v = parse_int64(token);
    if (!v) {
      return std::unexpected(
          Error{Errc::internal, "pezd sent a number this pez cannot read: " + quote_untrusted(token)});
    }
    values.push_back(*v);
  }
  return values;
}

}  // namespace pez::proto
