#include "common/admin.hpp"

#include <nlohmann/json.hpp>

#include "common/names.hpp"
#include "common/text.hpp"

namespace pez {
namespace {

using nlohmann::json;

std::expected<json, std::string> parse_object(std::string_view text, std::string_view what) {
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::unexpected(std::string(what) + " is not valid JSON");
  if (!value.is_object()) return std::unexpected(std::string(what) + " must be a JSON object");
  return value;
}

// A whole number from 1 to 2^63-1.
std::expected<std::int64_t, std::string> positive(json const& value, std::string_view key) {
  auto const allowed = std::string(key) + " must be a whole number from 1 to 9223372036854775807";
  if (value.is_number_unsigned()) {
    auto const v = value.get<std::uint64_t>();
    if (v < 1 || v > static_cast<std::uint64_t>(k_largest)) return std::unexpected(allowed);
    return static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) {
    auto const v = value.get<std::int64_t>();
    if (v < 1) return std::unexpected(allowed);
    return v;
  }
  return std::unexpected(allowed);
}

}  // namespace

std::expected<CreateSpec, std::string> parse_create_spec(std::string_view text) {
  auto object = parse_object(text, "the sequence description");
  if (!object) return std::unexpected(object.error());
  CreateSpec spec;
  std::optional<std::int64_t> start;
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
  std::int64_t step = 1;
  bool descending = false;
  bool has_name = false;
  for (auto const& [key, value] : object->items()) {
    if (key == "name") {
      if (!value.is_string()) return std::unexpected("name must be a string");
      spec.name = value.get<std::string>();
      if (auto ok = check_sequence_name(spec.name); !ok) return std::unexpected(ok.error());
      has_name = true;
    } else if (key == "start" || key == "min" || key == "max" || key == "increment") {
      auto v = positive(value, key);
      if (!v) return std::unexpected(v.error());
      if (key == "start") start = *v;
      if (key == "min") min = *v;
      if (key == "max") max = *v;
      if (key == "increment") step = *v;
    } else if (key == "descending" || key == "cycle") {
      if (!value.is_boolean()) return std::unexpected(key + " must be true or false");
      (key == "descending" ? descending : spec.cycle) = value.get<bool>();
    } else if (key == "mode") {
      if (value.is_null()) continue;
      if (!value.is_string() || (value != "strict" && value != "block")) {
        return std::unexpected("mode must be \"strict\" or \"block\" (or left out for the daemon's setting)");
      }
      spec.mode = value.get<std::string>();
    } else if (key == "description") {
      if (!value.is_string()) return std::unexpected("description must be a string");
      spec.description = value.get<std::string>();
      if (spec.description.size() > k_max_description) {
        return std::unexpected("description is longer than " + std::to_string(k_max_description) + " bytes");
      }
      for (unsigned char c : spec.description) {
        if (c < 0x20 || c == 0x7f) return std::unexpected("description must be one line of text");
      }
    } else {
      return std::unexpected("unknown field " + quote_untrusted(key) +
                             "; the fields are name, start, min, max, increment, descending, cycle, mode and "
                             "description");
    }
  }
  if (!has_name) return std::unexpected("name is required, as in {\"name\": \"tickets\"}");
  spec.min = min.value_or(1);
  spec.max = max.value_or(k_largest);
  if (spec.min >= spec.max) {
    return std::unexpected("min (" + std::to_string(spec.min) + ") must be below max (" + std::to_string(spec.max) + ")");
  }
  // Both are positive, so the difference fits.
  if (step > spec.max - spec.min) {
    return std::unexpected("increment (" + std::to_string(step) + ") must be at most max - min (" +
                           std::to_string(spec.max - spec.min) +
                           "): a larger step leaves the range at every step and gives the same number each time");
  }
  spec.increment = descending ? -step : step;
  spec.start = start.value_or(descending ? spec.max : spec.min);
  if (spec.start < spec.min || spec.start > spec.max) {
    return std::unexpected("start (" + std::to_string(spec.start) + ") must lie within min (" +
                           std::to_string(spec.min) + ") and max (" + std::to_string(spec.max) + ")");
  }
  return spec;
}

std::expected<std::optional<std::int64_t>, std::string> parse_reset_body(std::string_view text) {
  bool blank = true;
  for (char c : text) blank = blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
  if (blank) return std::optional<std::int64_t>{};
  auto object = parse_object(text, "the reset request");
  if (!object) return std::unexpected(object.error());
  std::optional<std::int64_t> to;
  for (auto const& [key, value] : object->items()) {
    if (key != "to") return std::unexpected("unknown field " + quote_untrusted(key) + "; the only field is to");
    if (value.is_null()) continue;
    auto v = positive(value, "to");
    if (!v) return std::unexpected(v.error());
    to = *v;
  }
  return to;
}

}  // namespace pez
