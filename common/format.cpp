// SPDX-License-Identifier: Apache-2.0
#include "common/format.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "common/number_template.hpp"
#include "common/text.hpp"

namespace pez {

void append_decimal(std::string& out, std::int64_t value) {
  char buf[24];
  auto const [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

namespace {

void append_number(std::string& out, std::int64_t value, NumberForm form) {
  if (form == NumberForm::string) out += '"';
  append_decimal(out, value);
  if (form == NumberForm::string) out += '"';
}

}  // namespace

void append_v1_body(std::string& out, std::int64_t value, NumberForm form) {
  append_number(out, value, form);
  out += '\n';
}

namespace {

// Writes a list in place at the end of out, not appended piece by piece: open, each of values
// written by write_item (at most `longest` characters), in quotes or not, with `between` between
// them, then close.
template <typename WriteItem>
void append_list(std::string& out, std::span<std::int64_t const> values, std::size_t longest, bool quoted,
                 std::string_view open, std::string_view between, std::string_view close, WriteItem write_item) {
  std::size_t const item = longest + between.size() + (quoted ? 2 : 0);
  auto const old = out.size();
  out.resize_and_overwrite(old + open.size() + values.size() * item + close.size(), [&](char* data, std::size_t) {
    char* at = std::ranges::copy(open, data + old).out;
    bool first = true;
    for (auto v : values) {
      if (!first) at = std::ranges::copy(between, at).out;
      first = false;
      if (quoted) *at++ = '"';
      at = write_item(at, v);
      if (quoted) *at++ = '"';
    }
    at = std::ranges::copy(close, at).out;
    return static_cast<std::size_t>(at - data);
  });
}

}  // namespace

void append_v2_body(std::string& out, std::span<std::int64_t const> values, NumberForm form) {
  constexpr std::size_t k_digits = 20;  // the most a 64-bit number takes
  append_list(out, values, k_digits, form == NumberForm::string, "[", ", ", "]\n",
              [](char* at, std::int64_t v) { return std::to_chars(at, at + k_digits, v).ptr; });
}

namespace {

number_template::Date date_of(std::int32_t period) {
  return number_template::Date{period / 10000, period / 100 % 100, period % 100};
}

bool real_date(std::int32_t period) {
  auto const d = date_of(period);
  if (d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1) return false;
  static constexpr int k_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool const leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
  return d.day <= (d.month == 2 && !leap ? 28 : k_days[d.month - 1]);
}

}  // namespace

std::optional<std::string> printing_problem(Printing const& printing, std::span<std::int64_t const> values) {
  if (!printing.format) return std::nullopt;
  auto const& rules = printing.format->rules();
  if (rules.period != number_template::Period::none && !real_date(printing.period)) {
    return "the numbers came without the period they belong to (" + std::to_string(printing.period) + ")";
  }
  for (auto v : values) {
    if (v < rules.min || v > rules.max) {
      return "the number " + std::to_string(v) + " lies outside the range its format was checked for (" +
             std::to_string(rules.min) + " to " + std::to_string(rules.max) + ")";
    }
  }
  return std::nullopt;
}

void append_rendered(std::string& out, Printing const& printing, std::int64_t value) {
  number_template::render_to(out, *printing.format, value, date_of(printing.period));
}

void append_rendered_words(std::string& out, Printing const& printing, std::span<std::int64_t const> values) {
  number_template::Renderer const renderer(*printing.format, date_of(printing.period));
  number_template::Renderer::Last last;
  append_list(out, values, renderer.longest(), false, values.empty() ? "" : " ", " ", "",
              [&](char* at, std::int64_t v) { return renderer.write(at, v, last); });
}

void append_v1_body(std::string& out, std::int64_t value, Printing const& printing) {
  out += '"';
  append_rendered(out, printing, value);
  out += "\"\n";
}

void append_v2_body(std::string& out, std::span<std::int64_t const> values, Printing const& printing) {
  number_template::Renderer const renderer(*printing.format, date_of(printing.period));
  number_template::Renderer::Last last;
  append_list(out, values, renderer.longest(), true, "[", ", ", "]\n",
              [&](char* at, std::int64_t v) { return renderer.write(at, v, last); });
}

std::string error_body(std::string_view message) {
  std::string out = "{\"error\": \"";
  append_json_escaped(out, message);
  out += "\"}\n";
  return out;
}

}  // namespace pez
