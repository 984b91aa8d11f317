// SPDX-License-Identifier: Apache-2.0
#include "common/admin.hpp"

#include <nlohmann/json.hpp>

#include "common/names.hpp"
#include "common/number_template.hpp"
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

// A time zone's name as the database knows them: Europe/Berlin, America/Argentina/Buenos_Aires,
// UTC, Etc/GMT+5. Whether the database knows it is for the database to say.
bool zone_name(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    bool const ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                    c == '_' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

// The format fields of a create: format, period, timezone, check; nullopt for another key.
std::optional<std::expected<void, std::string>> format_field(CreateSpec& spec, std::string const& key,
                                                             json const& value) {
  namespace nt = number_template;
  if (key != "format" && key != "period" && key != "timezone" && key != "check") return std::nullopt;
  if (value.is_null()) return std::expected<void, std::string>{};
  if (!value.is_string()) return std::unexpected(key + " must be a string");
  auto const text = value.get<std::string>();
  if (key == "format") {
    if (text.size() > 200) return std::unexpected(std::string("format is longer than 200 bytes"));
    spec.format = text;
  } else if (key == "period") {
    if (!nt::period_named(text) || text == "none") {
      return std::unexpected("period must be \"yearly\", \"monthly\" or \"daily\", not " + quote_untrusted(text));
    }
    spec.period = text;
  } else if (key == "timezone") {
    if (!zone_name(text)) {
      return std::unexpected("timezone must be an IANA time zone name such as Europe/Berlin or UTC, not " +
                             quote_untrusted(text));
    }
    spec.time_zone = text;
  } else {
    if (!nt::check_named(text) || text == "none") {
      return std::unexpected("check must be \"luhn\", \"damm\" or \"mod97\", not " + quote_untrusted(text));
    }
    spec.check = text;
  }
  return std::expected<void, std::string>{};
}

// A formatted sequence's template, against its range, period and check algorithm.
std::expected<void, std::string> check_format(CreateSpec const& spec) {
  namespace nt = number_template;
  if (!spec.format) {
    if (spec.period)
      return std::unexpected(
          std::string("a periodic sequence needs a format that shows its period, as in "
                      "INV-{YYYY}-{n:06}: its numbers start again each period"));
    if (spec.check)
      return std::unexpected(std::string("check characters need a format with {check}, as in INV-{n:06}-{check}"));
    if (spec.time_zone)
      return std::unexpected(std::string("a time zone is for a periodic sequence; give a period too"));
    return {};
  }
  if (spec.time_zone && !spec.period) {
    return std::unexpected(std::string("a time zone is for a periodic sequence; give a period too"));
  }
  nt::TemplateRules const rules{spec.period ? *nt::period_named(*spec.period) : nt::Period::none,
                                spec.check ? *nt::check_named(*spec.check) : nt::Check::none, spec.min, spec.max};
  auto parsed = nt::parse(*spec.format, rules);
  if (!parsed) return std::unexpected("format " + quote_untrusted(*spec.format) + ": " + parsed.error());
  return {};
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
    } else if (auto field = format_field(spec, key, value)) {
      if (!*field) return std::unexpected(field->error());
    } else {
      return std::unexpected("unknown field " + quote_untrusted(key) +
                             "; the fields are name, start, min, max, increment, descending, cycle, mode, "
                             "description, format, period, timezone and check");
    }
  }
  if (!has_name) return std::unexpected("name is required, as in {\"name\": \"tickets\"}");
  spec.min = min.value_or(1);
  spec.max = max.value_or(k_largest);
  if (spec.min >= spec.max) {
    return std::unexpected("min (" + std::to_string(spec.min) + ") must be below max (" + std::to_string(spec.max) +
                           ")");
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
  if (auto ok = check_format(spec); !ok) return std::unexpected(ok.error());
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
