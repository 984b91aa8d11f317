// SPDX-License-Identifier: Apache-2.0
#include "common/json_line.hpp"

#include <cstdint>
#include <string_view>

#include "common/text.hpp"

namespace pez {

namespace {

template <typename Json>
void append_json_line(std::string& out, Json const& value) {
  using type = typename Json::value_t;
  switch (value.type()) {
    case type::null:
      out += "null";
      return;
    case type::boolean:
      out += value.template get<bool>() ? "true" : "false";
      return;
    case type::number_integer:
      out += std::to_string(value.template get<std::int64_t>());
      return;
    case type::number_unsigned:
      out += std::to_string(value.template get<std::uint64_t>());
      return;
    case type::string:
      out += json_string(value.template get_ref<std::string const&>());
      return;
    case type::object: {
      out += '{';
      std::string_view separator;
      for (auto const& [key, member] : value.items()) {
        out += separator;
        out += json_string(key);
        out += ": ";
        append_json_line(out, member);
        separator = ", ";
      }
      out += '}';
      return;
    }
    case type::array: {
      out += '[';
      std::string_view separator;
      for (auto const& element : value) {
        out += separator;
        append_json_line(out, element);
        separator = ", ";
      }
      out += ']';
      return;
    }
    case type::number_float:
    case type::binary:
    case type::discarded:
      out += value.dump();
      return;
  }
}

template <typename Json>
std::string line_of(Json const& value) {
  std::string out;
  append_json_line(out, value);
  return out;
}

}  // namespace

std::string json_line(nlohmann::ordered_json const& value) { return line_of(value); }
std::string json_line(nlohmann::json const& value) { return line_of(value); }

}  // namespace pez
