// SPDX-License-Identifier: Apache-2.0
#include "common/number_template.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "common/check_digits.hpp"
#include "common/number_template_detail.hpp"
#include "common/text.hpp"

namespace pez::number_template {
namespace detail {

// A broken precondition is a bug in the caller; rendering anyway could give a string twice.
void require(bool ok, char const* what) {
  if (ok) return;
  std::fprintf(stderr, "pez: number template: broken precondition: %s\n", what);
  std::abort();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int decimal_width(std::int64_t value) {
  int width = 1;
  while (value >= 10) {
    value /= 10;
    ++width;
  }
  return width;
}

char* write_padded(char* at, std::uint64_t value, int width) {
  int const digits = decimal_width(static_cast<std::int64_t>(value));
  int const padding = std::max(width - digits, 0);
  std::fill_n(at, padding, '0');
  return std::to_chars(at + padding, at + padding + digits, value).ptr;
}

std::string_view field_text(Field field) {
  switch (field) {
    case Field::literal:
      return "a literal";
    case Field::number:
      return "{n}";
    case Field::year:
      return "{YYYY}";
    case Field::year2:
      return "{YY}";
    case Field::month:
      return "{MM}";
    case Field::day:
      return "{DD}";
    case Field::check:
      return "{check}";
  }
  return "?";
}

check_digits::Algorithm algorithm(Check check) {
  switch (check) {
    case Check::luhn:
      return check_digits::Algorithm::luhn;
    case Check::damm:
      return check_digits::Algorithm::damm;
    case Check::mod97:
      return check_digits::Algorithm::mod97;
    case Check::none:
      break;
  }
  require(false, "a check field without a check algorithm");
  return check_digits::Algorithm::luhn;
}

std::string at(std::size_t position) { return " at position " + std::to_string(position + 1); }

PeriodFields needs(Period period) {
  switch (period) {
    case Period::none:
      return {false, false, false};
    case Period::yearly:
      return {true, false, false};
    case Period::monthly:
      return {true, true, false};
    case Period::daily:
      return {true, true, true};
  }
  return {false, false, false};
}

// The fixed width of every part but the number, and the number's widest width.
std::size_t fixed_width(std::vector<Part> const& parts) {
  std::size_t width = 0;
  for (auto const& part : parts) {
    if (part.field == Field::literal) {
      width += part.literal.size();
    } else if (part.field != Field::number) {
      width += static_cast<std::size_t>(part.width);
    }
  }
  return width;
}

}  // namespace detail

// The helpers of number_template_detail.hpp, shared by the parsing and the rendering.
using namespace detail;

namespace {

constexpr int k_max_padding = 19;  // the digits of 2^63-1
constexpr std::string_view k_fields = "{n}, {n:0W} (W from 1 to 19), {YYYY}, {YY}, {MM}, {DD} and {check}";
constexpr std::string_view k_literals = "printable ASCII without spaces, quotes (' and \"), backslashes or braces";

bool literal_char(char c) { return c > ' ' && c < 0x7f && c != '\'' && c != '"' && c != '\\' && c != '{' && c != '}'; }
bool is_date(Field field) {
  return field == Field::year || field == Field::year2 || field == Field::month || field == Field::day;
}

// A field's text between its braces, or nullopt when it is no field.
std::optional<Part> field_named(std::string_view inside) {
  if (inside == "n") return Part{Field::number, {}, 0};
  if (inside == "YYYY") return Part{Field::year, {}, 4};
  if (inside == "YY") return Part{Field::year2, {}, 2};
  if (inside == "MM") return Part{Field::month, {}, 2};
  if (inside == "DD") return Part{Field::day, {}, 2};
  if (inside == "check") return Part{Field::check, {}, 0};
  // {n:0W}: a zero, then W from 1 to 19 without leading zeros.
  if (inside.size() >= 4 && inside.size() <= 5 && inside.substr(0, 3) == "n:0" && inside[3] >= '1' &&
      inside[3] <= '9') {
    int width = 0;
    for (char const c : inside.substr(3)) {
      if (!is_digit(c)) return std::nullopt;
      width = width * 10 + (c - '0');
    }
    if (width <= k_max_padding) return Part{Field::number, {}, width};
  }
  return std::nullopt;
}

std::string period_fields_text(Period period) {
  switch (period) {
    case Period::yearly:
      return "{YYYY}";
    case Period::monthly:
      return "{YYYY} and {MM}";
    case Period::daily:
      return "{YYYY}, {MM} and {DD}";
    case Period::none:
      break;
  }
  return "";
}

std::string_view period_unit(Period period) {
  switch (period) {
    case Period::yearly:
      return "years";
    case Period::monthly:
      return "months";
    case Period::daily:
      return "days";
    case Period::none:
      break;
  }
  return "";
}

std::expected<void, std::string> check_fields(std::vector<Part> const& parts, TemplateRules const& rules) {
  std::array<int, 7> count{};
  std::size_t check_at = parts.size();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    ++count[static_cast<std::size_t>(parts[i].field)];
    if (parts[i].field == Field::check) check_at = i;
  }
  auto const has = [&](Field field) { return count[static_cast<std::size_t>(field)] > 0; };

  if (!has(Field::number)) {
    return std::unexpected(
        std::string("the template has no {n}, so every number would render the same; put {n} or "
                    "{n:0W} where the number goes"));
  }
  if (has(Field::check) && rules.check == Check::none) {
    return std::unexpected(
        std::string("the template has {check} but the sequence has no check algorithm; choose one (luhn, damm or "
                    "mod97) or take {check} out"));
  }
  if (!has(Field::check) && rules.check != Check::none) {
    return std::unexpected("the sequence's check algorithm is " + std::string(name(rules.check)) +
                           " but the template has no {check}; put {check} where the check characters go (after "
                           "every other field)");
  }
  // {check} covers everything before it: every other field must be there.
  for (std::size_t i = check_at + 1; i < parts.size(); ++i) {
    if (parts[i].field != Field::literal) {
      return std::unexpected("{check} comes before " + std::string(field_text(parts[i].field)) +
                             "; it must follow every other field, so that the check characters cover them all "
                             "(only literals may come after it)");
    }
  }

  // The period's fields: all it needs, none finer.
  if (rules.period == Period::none) {
    for (auto const& part : parts) {
      if (is_date(part.field)) {
        return std::unexpected(std::string(field_text(part.field)) +
                               " shows the period a number belongs to, and this sequence has none; date fields need "
                               "a periodic sequence (yearly, monthly or daily)");
      }
    }
    return {};
  }
  auto const need = needs(rules.period);
  std::string const what = "a " + std::string(name(rules.period)) + " sequence";
  for (auto const& part : parts) {
    bool const finer = (part.field == Field::month && !need.month) || (part.field == Field::day && !need.day);
    if (finer) {
      return std::unexpected(std::string(field_text(part.field)) + " is finer than the period of " + what +
                             ": the same number would render differently within one period; its template may show " +
                             period_fields_text(rules.period) + (need.day ? "" : " (and {YY} beside {YYYY})") +
                             " and no finer date field");
    }
  }
  if (!has(Field::year)) {
    if (has(Field::year2)) {
      return std::unexpected(what + " needs {YYYY}: {YY} alone repeats every hundred years (2026 and 2126 both show " +
                             "26), so two periods would render alike; {YY} may only accompany {YYYY}");
    }
    return std::unexpected(what + " needs " + period_fields_text(rules.period) +
                           " in its template (it has no {YYYY}), or the numbers of two " +
                           std::string(period_unit(rules.period)) + " would render alike");
  }
  if ((need.month && !has(Field::month)) || (need.day && !has(Field::day))) {
    return std::unexpected(what + " needs " + period_fields_text(rules.period) + " in its template (it has no " +
                           (need.month && !has(Field::month) ? "{MM}" : "{DD}") + "), or the numbers of two " +
                           std::string(period_unit(rules.period)) + " would render alike");
  }
  return {};
}

// A number that can vary in width must not run into digits (see the header).
std::expected<void, std::string> check_readable(std::vector<Part> const& parts, TemplateRules const& rules) {
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].field != Field::number) continue;
    int const padding = parts[i].width;
    int const narrowest = std::max(padding, decimal_width(rules.min));
    int const widest = std::max(padding, decimal_width(rules.max));
    if (narrowest == widest) return {};
    auto const& next = parts[i + 1];
    bool const digits_follow = is_date(next.field) || (next.field == Field::literal && is_digit(next.literal[0]));
    if (!digits_follow) return {};
    std::string const follower = next.field == Field::literal
                                     ? "the digit " + quote_untrusted(next.literal.substr(0, 1))
                                     : std::string(field_text(next.field));
    return std::unexpected("the number can be " + std::to_string(narrowest) + " to " + std::to_string(widest) +
                           " digits wide (the range is " + std::to_string(rules.min) + " to " +
                           std::to_string(rules.max) + ") and " + follower +
                           " follows it directly, so a reader could not tell where it ends; pad it to the widest "
                           "number ({n:0" +
                           std::to_string(widest) + "}) or put a non-digit between them");
  }
  return {};
}

// The template's fields and literals, in order, each field at most once.
std::expected<std::vector<Part>, std::string> split_parts(std::string_view text) {
  std::vector<Part> parts;
  std::array<std::size_t, 7> first_at{};
  first_at.fill(std::string_view::npos);
  for (std::size_t i = 0; i < text.size();) {
    char const c = text[i];
    if (c == '{') {
      auto const end = text.find_first_of("{}", i + 1);
      if (end == std::string_view::npos || text[end] == '{') {
        return std::unexpected("the '{'" + at(i) +
                               " is never closed; each field is written {name}, and the fields are " +
                               std::string(k_fields));
      }
      auto const inside = text.substr(i + 1, end - i - 1);
      auto part = field_named(inside);
      if (!part) {
        if (inside.substr(0, 2) == "n:") {
          return std::unexpected("the padding " + quote_untrusted(text.substr(i, end - i + 1)) + at(i) +
                                 " is not understood; write {n:0W} with W from 1 to 19 (e.g. {n:06} pads to six "
                                 "digits)");
        }
        return std::unexpected("unknown field " + quote_untrusted(text.substr(i, end - i + 1)) + at(i) +
                               "; the fields are " + std::string(k_fields));
      }
      auto& first = first_at[static_cast<std::size_t>(part->field)];
      if (first != std::string_view::npos) {
        return std::unexpected("the template has " + std::string(field_text(part->field)) + " twice (at positions " +
                               std::to_string(first + 1) + " and " + std::to_string(i + 1) +
                               "); each field may appear once, and {n} exactly once");
      }
      first = i;
      parts.push_back(std::move(*part));
      i = end + 1;
      continue;
    }
    if (c == '}') {
      return std::unexpected("the '}'" + at(i) + " closes no field; literals may not hold braces");
    }
    if (!literal_char(c)) {
      return std::unexpected("the template holds " + quote_untrusted(text.substr(i, 1)) + at(i) + "; literals are " +
                             std::string(k_literals));
    }
    if (parts.empty() || parts.back().field != Field::literal) parts.push_back(Part{Field::literal, {}, 0});
    parts.back().literal += c;
    parts.back().width = static_cast<int>(parts.back().literal.size());
    ++i;
  }
  return parts;
}

}  // namespace

std::string_view name(Period period) {
  switch (period) {
    case Period::none:
      return "none";
    case Period::yearly:
      return "yearly";
    case Period::monthly:
      return "monthly";
    case Period::daily:
      return "daily";
  }
  return "none";
}

std::string_view name(Check check) {
  switch (check) {
    case Check::none:
      return "none";
    case Check::luhn:
      return "luhn";
    case Check::damm:
      return "damm";
    case Check::mod97:
      return "mod97";
  }
  return "none";
}

std::optional<Period> period_named(std::string_view text) {
  for (auto const period : {Period::none, Period::yearly, Period::monthly, Period::daily}) {
    if (text == name(period)) return period;
  }
  return std::nullopt;
}

std::optional<Check> check_named(std::string_view text) {
  for (auto const check : {Check::none, Check::luhn, Check::damm, Check::mod97}) {
    if (text == name(check)) return check;
  }
  return std::nullopt;
}

std::expected<NumberTemplate, std::string> parse(std::string_view text, TemplateRules rules) {
  if (rules.min < 0) {
    return std::unexpected("a formatted sequence's numbers cannot be negative, and this range starts at " +
                           std::to_string(rules.min) + "; its min must be 0 or more");
  }
  if (rules.min > rules.max) {
    return std::unexpected("the range is empty (min " + std::to_string(rules.min) + " is above max " +
                           std::to_string(rules.max) + ")");
  }
  if (text.empty()) {
    return std::unexpected(std::string("the template is empty; it needs at least {n}, e.g. INV-{n:06}"));
  }

  auto split = split_parts(text);
  if (!split) return std::unexpected(split.error());
  std::vector<Part> parts = std::move(*split);
  if (auto ok = check_fields(parts, rules); !ok) return std::unexpected(ok.error());
  for (auto& part : parts) {
    if (part.field == Field::check) part.width = static_cast<int>(check_digits::check_length(algorithm(rules.check)));
  }
  if (auto ok = check_readable(parts, rules); !ok) return std::unexpected(ok.error());

  int padding = 0;
  for (auto const& part : parts) {
    if (part.field == Field::number) padding = part.width;
  }
  std::size_t const widest = static_cast<std::size_t>(std::max(padding, decimal_width(rules.max)));
  std::size_t const longest = fixed_width(parts) + widest;
  if (longest > k_max_rendered) {
    return std::unexpected("the longest rendering would be " + std::to_string(longest) + " bytes (the number " +
                           std::to_string(rules.max) + " takes " + std::to_string(widest) + " of them" +
                           (static_cast<int>(widest) == padding ? ", padded" : "") +
                           "); a rendering may have at most " + std::to_string(k_max_rendered) +
                           ": shorten the literals or the padding, or lower max");
  }

  NumberTemplate tmpl;
  tmpl.text_ = std::string(text);
  tmpl.rules_ = rules;
  tmpl.parts_ = std::move(parts);
  tmpl.longest_ = longest;
  return tmpl;
}

}  // namespace pez::number_template
