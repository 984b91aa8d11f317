// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/query.hpp"

#include <algorithm>

#include "common/count.hpp"
#include "common/text.hpp"

namespace pez::daemon {
namespace {

constexpr std::string_view k_as_values = "the only value is as=string (the numbers as JSON strings)";

// The 400 for a parameter given without '=' and a value.
std::string missing_value(Param const& param, std::uint32_t max_count) {
  switch (param.rule) {
    case Rule::count:
      return count_error("", std::to_string(max_count)) + ", as in count=5";
    case Rule::as_string:
      return "as needs a value; " + std::string(k_as_values);
    default:
      return std::string(param.name) + " is given without a value; " + std::string(param.name) + " is " +
             fill_in(param.description, max_count);
  }
}

// What a parameter given twice is told to be.
std::string once(Param const& param, std::uint32_t max_count) {
  switch (param.rule) {
    case Rule::count:
      return "a whole number from 1 to " + std::to_string(max_count);
    case Rule::as_string:
      return "as=string";
    default:
      return "as " + std::string(param.name) + "=V";
  }
}

// Checks one query parameter's value by its rule and keeps it; the 400's message otherwise.
std::optional<std::string> read_value(Param const& param, std::string value, std::uint32_t max_count, Parsed& out) {
  switch (param.rule) {
    case Rule::count: {
      auto parsed = parse_count(value, max_count);
      if (!parsed) return parsed.error();
      out.count = *parsed;
      return std::nullopt;
    }
    case Rule::as_string:
      if (value.empty()) return "as needs a value; " + std::string(k_as_values);
      if (value != "string") return "as=" + quote_untrusted(value) + " is not known; " + std::string(k_as_values);
      out.form = NumberForm::string;
      return std::nullopt;
    case Rule::check_value:
      if (value.empty()) return "value is empty; give the number to check, such as value=INV-2026-000042-7";
      if (value.size() > k_max_check_value) {
        return "value is " + std::to_string(value.size()) + " bytes long; a number to check is at most " +
               std::to_string(k_max_check_value) + " bytes, the longest a formatted number renders to";
      }
      out.value = std::move(value);
      return std::nullopt;
    case Rule::sequence_name:
    case Rule::admin_sequence_name:
      break;
  }
  return "parameter " + std::string(param.name) + " belongs in the path";
}

}  // namespace

// The query of an operation, checked against its parameters in the table.
std::variant<Parsed, Reply> parse_query(Operation const& op, std::string_view path, std::string_view query,
                                        std::string_view name, std::uint32_t max_count) {
  if (op.query.empty()) {
    if (!query.empty()) return bad_request(std::string(path) + " takes no parameters");
    return Parsed{};
  }
  Parsed out;
  std::uint64_t seen = 0;  // a bit for each of op.query (a unit test holds the table to 64)
  auto const unknown = [&](std::string_view key) {
    return bad_request("unknown parameter " + quote_untrusted(key) + "; " + fill_in(op.query_hint, max_count, name));
  };
  // The parts between '&', read in place (no list of them made: this runs for every request).
  for (std::size_t start = 0; start <= query.size();) {  // an empty query is one empty part
    auto const end = std::min(query.find('&', start), query.size());
    auto const part = query.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    auto const eq = part.find('=');
    bool const bare = eq == std::string_view::npos;
    std::string key;
    std::string value;
    if (!percent_decode(part.substr(0, bare ? part.size() : eq), key) ||
        (!bare && !percent_decode(part.substr(eq + 1), value))) {
      return bad_request("malformed %-escape in query " + quote_untrusted(query));
    }
    std::size_t i = 0;
    while (i < op.query.size() && op.query[i].name != key) ++i;
    if (bare && !key.empty() && key[0] >= '0' && key[0] <= '9') {
      // "/v2/forward?99" means count=99, as the original service allowed; "?99&as=string" too.
      i = 0;
      while (i < op.query.size() && op.query[i].rule != Rule::count) ++i;
      if (i == op.query.size()) return unknown(key);
      value = std::move(key);
      key = op.query[i].name;
    } else if (bare) {
      return i == op.query.size() ? unknown(key) : bad_request(missing_value(op.query[i], max_count));
    }
    if (i == op.query.size()) return unknown(key);
    if ((seen >> i & 1) != 0) {
      return bad_request(key + " is given more than once; give it once, " + once(op.query[i], max_count));
    }
    seen |= std::uint64_t{1} << i;
    if (auto error = read_value(op.query[i], std::move(value), max_count, out)) return bad_request(*error);
  }
  for (std::size_t i = 0; i < op.query.size(); ++i) {
    if (op.query[i].required && (seen >> i & 1) == 0) {
      return bad_request(std::string(op.query[i].name) +
                         " is required: " + fill_in(op.query[i].description, max_count));
    }
  }
  return out;
}

}  // namespace pez::daemon
