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
  auto const [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  (void)ec;
  auto const digits = static_cast<int>(end - buffer.data());
  if (digits < width) out.append(static_cast<std::size_t>(width - digits), '0');
  out.append(buffer.data(), end);
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
    : m_min(tmpl.rules().min), m_max(tmpl.rules().max), m_algorithm(tmpl.rules().check) {
  auto const show = shown(tmpl);
  if (show.year) require(period.year >= 1 && period.year <= 9999, "a year outside 1 to 9999");
  if (show.month) require(period.month >= 1 && period.month <= 12, "a month outside 1 to 12");
  if (show.day) require(real_date(period.year, period.month, period.day), "a day that does not exist");
  for (auto const& part : tmpl.parts()) {
    auto& pieces = m_check ? m_after_check : m_pieces;
    if (part.field == Field::check) {
      m_check = true;
      continue;
    }
    if (part.field == Field::number) {
      pieces.push_back(Piece{true, {}, part.width});
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
    if (!m_check) {
      bool const seen_number = std::ranges::any_of(m_pieces, [](Piece const& p) { return p.number; });
      for (char const c : text) {
        if (is_digit(c)) (seen_number ? m_digits_after : m_digits_before) += c;
      }
    }
    if (!pieces.empty() && !pieces.back().number) {
      pieces.back().text += text;
    } else {
      pieces.push_back(Piece{false, std::move(text), 0});
    }
  }
  namespace partial = check_digits::partial;
  m_luhn_before[0] = partial::luhn_sum(m_digits_before, false);
  m_luhn_before[1] = partial::luhn_sum(m_digits_before, true);
  m_luhn_after = partial::luhn_sum(m_digits_after, true);
  m_state_before =
      m_algorithm == Check::damm ? partial::damm_interim(0, m_digits_before) : partial::mod97_rest(0, m_digits_before);
}

void Renderer::append(std::string& out, std::int64_t n) const {
  require(n >= 0 && n >= m_min && n <= m_max, "a number outside the template's range");
  std::size_t number_at = 0;
  std::size_t number_size = 0;
  for (auto const& piece : m_pieces) {
    if (piece.number) {
      number_at = out.size();
      append_padded(out, static_cast<std::uint64_t>(n), piece.width);
      number_size = out.size() - number_at;
    } else {
      out += piece.text;
    }
  }
  if (!m_check) return;
  // The check over the digits before the number, the number's and those after it, in that order
  // (the same as over every digit rendered before {check}).
  namespace partial = check_digits::partial;
  std::string_view const number(out.data() + number_at, number_size);
  char check[2];
  std::size_t width = 1;
  switch (m_algorithm) {
    case Check::luhn: {
      // From the right, the payload's rightmost digit doubled.
      bool const number_doubled = m_digits_after.size() % 2 == 0;
      bool const before_doubled = (m_digits_after.size() + number.size()) % 2 == 0;
      int const sum = m_luhn_after + partial::luhn_sum(number, number_doubled) + m_luhn_before[before_doubled ? 1 : 0];
      check[0] = partial::luhn_check(sum);
      break;
    }
    case Check::damm:
      check[0] =
          static_cast<char>('0' + partial::damm_interim(partial::damm_interim(m_state_before, number), m_digits_after));
      break;
    case Check::mod97:
      partial::mod97_check(partial::mod97_rest(partial::mod97_rest(m_state_before, number), m_digits_after), check);
      width = 2;
      break;
    case Check::none:
      require(false, "{check} without a check algorithm");
  }
  out.append(check, width);
  for (auto const& piece : m_after_check) out += piece.text;
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
