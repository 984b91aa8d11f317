// SPDX-License-Identifier: Apache-2.0
// Rendering numbers with a template, and reading rendered values back (see number_template.hpp).
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/check_digits.hpp"
#include "common/number_template.hpp"
#include "common/number_template_detail.hpp"
#include "common/text.hpp"

namespace pez::number_template {

// The helpers of number_template_detail.hpp, shared by the parsing and the rendering.
using namespace detail;

namespace {

std::string_view check_field_name(Check check) {
  switch (check) {
    case Check::luhn:
      return "Luhn";
    case Check::damm:
      return "Damm";
    case Check::mod97:
      return "MOD 97-10";
    case Check::none:
      break;
  }
  return "none";
}

void append_padded(std::string& out, std::uint64_t value, int width) {
  std::array<char, 24> buffer{};
  out.append(buffer.data(), write_padded(buffer.data(), value, width));
}

// Every digit of text, in order.
std::string digits_of(std::string_view text) {
  std::string digits;
  for (char const c : text) {
    if (is_digit(c)) digits += c;
  }
  return digits;
}

bool real_date(int year, int month, int day) {
  return std::chrono::year_month_day{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                     std::chrono::day{static_cast<unsigned>(day)}}
      .ok();
}

struct Shown {
  bool year = false, month = false, day = false;
};
Shown shown(NumberTemplate const& tmpl) {
  auto const need = needs(tmpl.rules().period);
  return {need.year, need.month, need.day};
}

// Reads each part of value, its number number_width digits wide, into reading; {YY} into year2
// and where {check} starts into check_at.
std::expected<void, std::string> read_parts(NumberTemplate const& tmpl, std::string_view value,
                                            std::size_t number_width, Reading& reading, int& year2,
                                            std::size_t& check_at) {
  auto const& rules = tmpl.rules();
  auto const& parts = tmpl.parts();
  std::size_t pos = 0;
  for (auto const& part : parts) {
    std::size_t const width = part.field == Field::number ? number_width : static_cast<std::size_t>(part.width);
    auto const piece = value.substr(pos, width);
    if (part.field == Field::literal) {
      if (piece != part.literal) {
        return std::unexpected(quote_untrusted(value) + " has " + quote_untrusted(piece) + at(pos) + " where " +
                               quote_untrusted(tmpl.text()) + " has " + quote_untrusted(part.literal));
      }
      pos += width;
      continue;
    }
    std::uint64_t number = 0;
    for (std::size_t i = 0; i < piece.size(); ++i) {
      if (!is_digit(piece[i])) {
        return std::unexpected(quote_untrusted(value) + " has " + quote_untrusted(piece.substr(i, 1)) + at(pos + i) +
                               " where " + std::string(field_text(part.field)) + " has a digit");
      }
      number = number * 10 + static_cast<std::uint64_t>(piece[i] - '0');  // at most 19 digits: no overflow
    }
    switch (part.field) {
      case Field::number: {
        if (number < static_cast<std::uint64_t>(rules.min) || number > static_cast<std::uint64_t>(rules.max)) {
          return std::unexpected("the number " + std::string(piece) + " is outside the sequence's range (" +
                                 std::to_string(rules.min) + " to " + std::to_string(rules.max) + ")");
        }
        reading.n = static_cast<std::int64_t>(number);
        std::string written;
        append_padded(written, number, part.width);
        if (written != piece) {
          return std::unexpected("the number is written " + quote_untrusted(piece) + " where the template writes " +
                                 quote_untrusted(written));
        }
        break;
      }
      case Field::year:
        reading.period.year = static_cast<int>(number);
        break;
      case Field::year2:
        year2 = static_cast<int>(number);
        break;
      case Field::month:
        reading.period.month = static_cast<int>(number);
        break;
      case Field::day:
        reading.period.day = static_cast<int>(number);
        break;
      case Field::check:
        check_at = pos;
        break;
      case Field::literal:
        break;
    }
    pos += width;
  }
  return {};
}

}  // namespace

void render_to(std::string& out, NumberTemplate const& tmpl, std::int64_t n, Date period) {
  auto const& rules = tmpl.rules();
  require(n >= 0, "a negative number");
  require(n >= rules.min && n <= rules.max, "a number outside the template's range");
  auto const show = shown(tmpl);
  if (show.year) require(period.year >= 1 && period.year <= 9999, "a year outside 1 to 9999");
  if (show.month) require(period.month >= 1 && period.month <= 12, "a month outside 1 to 12");
  if (show.day) require(real_date(period.year, period.month, period.day), "a day that does not exist");

  std::size_t const start = out.size();
  for (auto const& part : tmpl.parts()) {
    switch (part.field) {
      case Field::literal:
        out += part.literal;
        break;
      case Field::number:
        append_padded(out, static_cast<std::uint64_t>(n), part.width);
        break;
      case Field::year:
        append_padded(out, static_cast<std::uint64_t>(period.year), 4);
        break;
      case Field::year2:
        append_padded(out, static_cast<std::uint64_t>(period.year % 100), 2);
        break;
      case Field::month:
        append_padded(out, static_cast<std::uint64_t>(period.month), 2);
        break;
      case Field::day:
        append_padded(out, static_cast<std::uint64_t>(period.day), 2);
        break;
      case Field::check: {
        auto const check =
            check_digits::compute(algorithm(rules.check), digits_of(std::string_view(out).substr(start)));
        require(check.has_value(), "no digits before {check}");
        out += *check;
        break;
      }
    }
  }
}

Renderer::Renderer(NumberTemplate const& tmpl, Date period)
    : m_longest(tmpl.longest()), m_min(tmpl.rules().min), m_max(tmpl.rules().max), m_algorithm(tmpl.rules().check) {
  auto const show = shown(tmpl);
  if (show.year) require(period.year >= 1 && period.year <= 9999, "a year outside 1 to 9999");
  if (show.month) require(period.month >= 1 && period.month <= 12, "a month outside 1 to 12");
  if (show.day) require(real_date(period.year, period.month, period.day), "a day that does not exist");
  std::string digits_before;
  bool seen_number = false;
  for (auto const& part : tmpl.parts()) {
    if (part.field == Field::check) {
      m_check = true;
      continue;
    }
    if (part.field == Field::number) {
      seen_number = true;
      m_width = part.width;
      continue;
    }
    std::string text;
    switch (part.field) {
      case Field::literal:
        text = part.literal;
        break;
      case Field::year:
        append_padded(text, static_cast<std::uint64_t>(period.year), 4);
        break;
      case Field::year2:
        append_padded(text, static_cast<std::uint64_t>(period.year % 100), 2);
        break;
      case Field::month:
        append_padded(text, static_cast<std::uint64_t>(period.month), 2);
        break;
      case Field::day:
        append_padded(text, static_cast<std::uint64_t>(period.day), 2);
        break;
      case Field::number:
      case Field::check:
        break;
    }
    // Only literals follow {check} (parse makes sure), and they are not checked.
    if (m_check) {
      m_tail += text;
      continue;
    }
    (seen_number ? m_middle : m_head) += text;
    (seen_number ? m_digits_after : digits_before) += digits_of(text);
  }
  namespace partial = check_digits::partial;
  m_luhn_before[0] = partial::luhn_sum(digits_before, false);
  m_luhn_before[1] = partial::luhn_sum(digits_before, true);
  m_luhn_after = partial::luhn_sum(m_digits_after, true);
  m_state_before =
      m_algorithm == Check::damm ? partial::damm_interim(0, digits_before) : partial::mod97_rest(0, digits_before);
  m_after_number = m_middle.size() + (m_check ? check_digits::check_length(algorithm(m_algorithm)) : 0) + m_tail.size();
}

// The check's state, which write_check turns into the check characters: Luhn's sum of every digit
// before {check} (mod 10); Damm's interim digit before the number's last digit; MOD 97's
// remainder after the number.
char* Renderer::write_check(char* at, int state, char last_digit) const {
  namespace partial = check_digits::partial;
  switch (m_algorithm) {
    case Check::luhn:
      *at++ = partial::luhn_check(state);
      break;
    case Check::damm: {
      int const interim = partial::damm_interim(state, std::string_view(&last_digit, 1));
      *at++ = static_cast<char>('0' + partial::damm_interim(interim, m_digits_after));
      break;
    }
    case Check::mod97:
      partial::mod97_check(partial::mod97_rest(state, m_digits_after), at);
      at += 2;
      break;
    case Check::none:
      require(false, "{check} without a check algorithm");
  }
  return at;
}

char* Renderer::write(char* at, std::int64_t n, Last& last) const {
  require(n >= 0 && n >= m_min && n <= m_max, "a number outside the template's range");
  char* const start = at;
  // A neighbour of the last number: its rendering, but for the number's last digit (the byte
  // before the m_after_number that follow the number) and the check characters.
  std::int64_t const step = n - last.n;  // both within 0 to INT64_MAX: no overflow
  if (last.at != nullptr && (step == 1 || step == -1)) {
    std::size_t const digit_at = last.size - m_after_number - 1;
    auto const digit = static_cast<char>(last.at[digit_at] + step);
    if (digit >= '0' && digit <= '9') {
      std::copy_n(last.at, last.size, at);
      at[digit_at] = digit;
      int state = last.state;
      switch (m_algorithm) {
        case Check::luhn: {
          bool const doubled = m_digits_after.size() % 2 == 0;  // the payload's rightmost digit is doubled
          state = (state - check_digits::partial::luhn_digit(last.at[digit_at], doubled) +
                   check_digits::partial::luhn_digit(digit, doubled) + 10) %
                  10;
          break;
        }
        case Check::mod97:
          state = static_cast<int>((state + step + 97) % 97);
          break;
        case Check::damm:  // the interim before the last digit has not changed
        case Check::none:
          break;
      }
      if (m_check) write_check(at + digit_at + 1 + m_middle.size(), state, digit);
      last = Last{at, last.size, n, state};
      return at + last.size;
    }
  }

  auto const value = static_cast<std::uint64_t>(n);
  at = std::ranges::copy(m_head, at).out;
  // The number, zero-padded to m_width: at most longest() - the rest, as n is within the range.
  char* const number = at;
  at = write_padded(at, value, m_width);
  int const width = static_cast<int>(at - number);
  at = std::ranges::copy(m_middle, at).out;
  int state = 0;
  if (m_check) {
    // The check over the digits before the number, the number's and those after it, in that order
    // (the same as over every digit rendered before {check}).
    namespace partial = check_digits::partial;
    std::size_t const number_size = static_cast<std::size_t>(width);
    switch (m_algorithm) {
      case Check::luhn: {
        // From the right, the payload's rightmost digit doubled.
        bool const number_doubled = m_digits_after.size() % 2 == 0;
        bool const before_doubled = (m_digits_after.size() + number_size) % 2 == 0;
        state =
            (m_luhn_after + partial::luhn_sum_of(value, number_doubled) + m_luhn_before[before_doubled ? 1 : 0]) % 10;
        break;
      }
      case Check::damm:
        state = partial::damm_interim(m_state_before, std::string_view(number, number_size - 1));
        break;
      case Check::mod97:
        state = partial::mod97_rest_of(m_state_before, value, width);
        break;
      case Check::none:
        break;
    }
    at = write_check(at, state, number[number_size - 1]);
  }
  at = std::ranges::copy(m_tail, at).out;
  last = Last{start, static_cast<std::size_t>(at - start), n, state};
  return at;
}

char* Renderer::write(char* at, std::int64_t n) const {
  Last last;
  return write(at, n, last);
}

void Renderer::append(std::string& out, std::int64_t n) const {
  auto const old = out.size();
  out.resize_and_overwrite(
      old + m_longest, [&](char* data, std::size_t) { return static_cast<std::size_t>(write(data + old, n) - data); });
}

std::string render(NumberTemplate const& tmpl, std::int64_t n, Date period) {
  std::string out;
  out.reserve(tmpl.longest());
  render_to(out, tmpl, n, period);
  return out;
}

std::string example(NumberTemplate const& tmpl) { return render(tmpl, tmpl.rules().min, Date{2026, 1, 1}); }

std::expected<Reading, std::string> parse_rendered(NumberTemplate const& tmpl, std::string_view value) {
  auto const& rules = tmpl.rules();
  auto const& parts = tmpl.parts();
  int padding = 0;
  for (auto const& part : parts) {
    if (part.field == Field::number) padding = part.width;
  }
  std::size_t const narrowest = static_cast<std::size_t>(std::max(padding, decimal_width(rules.min)));
  std::size_t const widest = static_cast<std::size_t>(std::max(padding, decimal_width(rules.max)));
  std::size_t const fixed = fixed_width(parts);
  if (value.size() < fixed + narrowest || value.size() > fixed + widest) {
    std::string const lengths = narrowest == widest ? std::to_string(fixed + widest) + " characters"
                                                    : std::to_string(fixed + narrowest) + " to " +
                                                          std::to_string(fixed + widest) + " characters";
    return std::unexpected(quote_untrusted(value) + " has " + std::to_string(value.size()) +
                           " characters; the renderings of " + quote_untrusted(tmpl.text()) + " have " + lengths);
  }
  std::size_t const number_width = value.size() - fixed;

  Reading reading;
  int year2 = -1;
  std::size_t check_at = std::string_view::npos;
  if (auto ok = read_parts(tmpl, value, number_width, reading, year2, check_at); !ok) {
    return std::unexpected(ok.error());
  }

  auto const show = shown(tmpl);
  if (show.year && reading.period.year < 1) {
    return std::unexpected(quote_untrusted(value) + " has the year 0000; years run from 0001 to 9999");
  }
  if (year2 >= 0 && year2 != reading.period.year % 100) {
    return std::unexpected(quote_untrusted(value) + " has {YY} " + std::to_string(year2) +
                           ", which disagrees with its {YYYY} " + std::to_string(reading.period.year));
  }
  if (show.month && (reading.period.month < 1 || reading.period.month > 12)) {
    return std::unexpected(quote_untrusted(value) + " has the month " + std::to_string(reading.period.month) +
                           "; months run from 01 to 12");
  }
  if (show.day && !real_date(reading.period.year, reading.period.month, reading.period.day)) {
    return std::unexpected(quote_untrusted(value) + " has a day that does not exist (" +
                           std::to_string(reading.period.year) + "-" + std::to_string(reading.period.month) + "-" +
                           std::to_string(reading.period.day) + ")");
  }
  if (check_at != std::string_view::npos) {
    auto const width = check_digits::check_length(algorithm(rules.check));
    auto const expected = check_digits::compute(algorithm(rules.check), digits_of(value.substr(0, check_at)));
    if (!expected || *expected != value.substr(check_at, width)) {
      return std::unexpected(quote_untrusted(value) + " has the wrong check " + (width == 1 ? "digit" : "digits") +
                             " (" + std::string(check_field_name(rules.check)) + "): a character is mistyped");
    }
  }
  // Everything above makes value the rendering of what was read; this says so, should they ever part.
  if (render(tmpl, reading.n, reading.period) != value) {
    return std::unexpected(quote_untrusted(value) + " is not a rendering of " + quote_untrusted(tmpl.text()));
  }
  return reading;
}

bool valid(NumberTemplate const& tmpl, std::string_view value) { return parse_rendered(tmpl, value).has_value(); }

}  // namespace pez::number_template
