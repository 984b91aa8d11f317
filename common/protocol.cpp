#include "common/protocol.hpp"

#include <algorithm>

#include "common/count.hpp"
#include "common/format.hpp"
#include "common/names.hpp"
#include "common/text.hpp"

namespace pez::proto {
namespace {

constexpr std::string_view k_verbs = "HELLO, NEXT, STATUS, PING and QUIT";

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

  if (iequals(verb, "NEXT")) {
    if (args.size() < 2 || args.size() > 3) {
      return bad("NEXT takes a sequence name and an optional count, as in: NEXT forward 5");
    }
    if (auto ok = check_sequence_name(args[1]); !ok) return bad(ok.error());
    std::uint32_t count = 1;
    if (args.size() == 3) {
      auto parsed = parse_count(args[2], max_count);
      if (!parsed) return bad(parsed.error());
      count = *parsed;
    }
    return Next{std::string(args[1]), count};
  }
  if (iequals(verb, "HELLO")) {
    std::uint64_t version = 0;
    if (args.size() != 2 || !parse_decimal(args[1], version) || version > 1'000'000) {
      return bad("HELLO takes the protocol version the client speaks, as in: HELLO 1");
    }
    if (version != static_cast<std::uint64_t>(k_version)) {
      return std::unexpected(Error{Errc::unsupported_version,
                                   "this pezd speaks protocol version " + std::to_string(k_version) +
                                       ", the client asked for " + std::to_string(version) +
                                       "; use a pez of the same release as pezd"});
    }
    return Hello{static_cast<long>(version)};
  }
  auto const no_args = [&](std::string_view name) -> std::expected<void, Error> {
    if (args.size() != 1) return bad(std::string(name) + " takes no arguments");
    return {};
  };
  if (iequals(verb, "PING")) {
    if (auto ok = no_args("PING"); !ok) return std::unexpected(ok.error());
    return Ping{};
  }
  if (iequals(verb, "STATUS")) {
    if (auto ok = no_args("STATUS"); !ok) return std::unexpected(ok.error());
    return Status{};
  }
  if (iequals(verb, "QUIT")) {
    if (auto ok = no_args("QUIT"); !ok) return std::unexpected(ok.error());
    return Quit{};
  }
  return bad("unknown request " + quote_untrusted(verb) + "; the requests are " + std::string(k_verbs));
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

void append_error(std::string& out, Errc code, std::string_view message) {
  out += "ERR ";
  out += errc_token(code);
  out += ' ';
  append_one_line(out, message.empty() ? std::string_view("error") : message);
  out += '\n';
}

std::string hello_line() { return "HELLO " + std::to_string(k_version) + "\n"; }

std::string next_line(std::string_view name, std::uint32_t count) {
  std::string out = "NEXT ";
  out += name;
  out += ' ';
  out += std::to_string(count);
  out += '\n';
  return out;
}

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
    return std::unexpected(Error{Errc::internal, "pezd answered an unknown error " + quote_untrusted(token) + ": " +
                                                     std::string(message)});
  }
  return std::unexpected(Error{Errc::internal, "pezd sent an answer this pez cannot read: " + quote_untrusted(line)});
}

std::expected<std::vector<std::int64_t>, Error> parse_numbers(std::string_view payload) {
  std::vector<std::int64_t> values;
  for (auto token : tokens(payload)) {
    std::int64_t v = 0;
    if (!parse_int64(token, v)) {
      return std::unexpected(Error{Errc::internal, "pezd sent a number this pez cannot read: " + quote_untrusted(token)});
    }
    values.push_back(v);
  }
  return values;
}

}  // namespace pez::proto
