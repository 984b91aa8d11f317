// SPDX-License-Identifier: Apache-2.0
#include "common/check_digits.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/text.hpp"

namespace pez::check_digits {
namespace {

// Why digits cannot be used: something other than 0-9 in it, or fewer than at_least digits.
std::expected<void, std::string> check_input(std::string_view digits, std::size_t at_least, std::string_view what) {
  for (char const c : digits) {
    if (c < '0' || c > '9') {
      return std::unexpected(std::string(what) + " takes only the digits 0-9, got " + quote_untrusted(digits));
    }
  }
  if (digits.size() < at_least) {
    return std::unexpected(std::string(what) + " needs at least " + std::to_string(at_least) + " digit" +
                           (at_least == 1 ? "" : "s") + ", got " + quote_untrusted(digits));
  }
  return {};
}

std::expected<void, std::string> check_payload(std::string_view digits) {
  return check_input(digits, 1, "a check digit computation");
}

std::expected<void, std::string> check_whole(std::string_view digits_with_check, std::size_t check_size) {
  return check_input(digits_with_check, check_size + 1, "a check digit validation");
}

int digit(char c) { return c - '0'; }

// Luhn: a doubled digit counts the sum of its digits: 0 2 4 6 8 1 3 5 7 9.
constexpr std::array<unsigned, 10> k_doubled{0, 2, 4, 6, 8, 1, 3, 5, 7, 9};

// Luhn: from the right, every second digit doubled (its digits summed), the total a multiple of 10.
// first_doubled: whether the rightmost digit of text is one of the doubled ones.
int luhn_sum_mod10(std::string_view text, bool first_doubled) {
  // The sum is reduced once per 64 digits, so any length is fine and the loop does no division.
  unsigned sum = 0;
  bool doubled = first_doubled;
  std::size_t n = 0;
  for (auto it = text.rbegin(); it != text.rend(); ++it, ++n) {
    auto const d = static_cast<unsigned>(digit(*it));
    sum += doubled ? k_doubled[d] : d;
    doubled = !doubled;
    if (n % 64 == 63) sum %= 10;
  }
  return static_cast<int>(sum % 10);
}

// Damm's totally anti-symmetric quasigroup of order 10 (his 2004 thesis): row the interim digit,
// column the next digit. Its diagonal is all zeros, so a number followed by its check digit ends at 0.
constexpr std::array<std::array<std::uint8_t, 10>, 10> k_damm{{
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
    {7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
    {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
    {1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
    {6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
    {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
    {8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
    {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
    {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}};

int damm_interim(std::string_view text) {
  int interim = 0;
  for (char const c : text) interim = k_damm[static_cast<std::size_t>(interim)][static_cast<std::size_t>(digit(c))];
  return interim;
}

// The decimal number text, modulo 97, one digit at a time (never more than 969 in between).
int mod97_of(std::string_view text) {
  // Eight digits at a time: rest (below 97) * 10^8 + 8 digits stays below 2^64.
  std::uint64_t rest = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint64_t chunk = 0;
    std::uint64_t scale = 1;
    for (std::size_t end = std::min(text.size(), i + 8); i < end; ++i) {
      chunk = chunk * 10 + static_cast<std::uint64_t>(digit(text[i]));
      scale *= 10;
    }
    rest = (rest * scale + chunk) % 97;
  }
  return static_cast<int>(rest);
}

}  // namespace

namespace luhn {

std::expected<std::string, std::string> compute(std::string_view digits) {
  if (auto ok = check_payload(digits); !ok) return std::unexpected(ok.error());
  // The check digit will be the rightmost, so the payload's rightmost digit is doubled.
  int const sum = luhn_sum_mod10(digits, true);
  return std::string(1, static_cast<char>('0' + (10 - sum) % 10));
}

std::expected<bool, std::string> valid(std::string_view digits_with_check) {
  if (auto ok = check_whole(digits_with_check, 1); !ok) return std::unexpected(ok.error());
  return luhn_sum_mod10(digits_with_check, false) == 0;
}

}  // namespace luhn

namespace damm {

std::expected<std::string, std::string> compute(std::string_view digits) {
  if (auto ok = check_payload(digits); !ok) return std::unexpected(ok.error());
  return std::string(1, static_cast<char>('0' + damm_interim(digits)));
}

std::expected<bool, std::string> valid(std::string_view digits_with_check) {
  if (auto ok = check_whole(digits_with_check, 1); !ok) return std::unexpected(ok.error());
  return damm_interim(digits_with_check) == 0;
}

}  // namespace damm

namespace mod97 {

std::expected<std::string, std::string> compute(std::string_view digits) {
  if (auto ok = check_payload(digits); !ok) return std::unexpected(ok.error());
  // The check digits C make digits·100 + C ≡ 1 (mod 97): C = 98 − (digits·100 mod 97), 02 to 98.
  int const check = 98 - (mod97_of(digits) * 100) % 97;
  return std::string{static_cast<char>('0' + check / 10), static_cast<char>('0' + check % 10)};
}

std::expected<bool, std::string> valid(std::string_view digits_with_check) {
  if (auto ok = check_whole(digits_with_check, 2); !ok) return std::unexpected(ok.error());
  // The whole ≡ 1 (mod 97) is ISO 7064's test; it also holds for 99 where 02 is right (99 ≡ 2),
  // and 00, 01 and 99 are never check digits, so the check digits must be the computed ones.
  auto const check = digits_with_check.substr(digits_with_check.size() - 2);
  return mod97_of(digits_with_check) == 1 && check >= "02" && check <= "98";
}

}  // namespace mod97

namespace partial {

int luhn_sum(std::string_view digits, bool rightmost_doubled) { return luhn_sum_mod10(digits, rightmost_doubled); }

int luhn_digit(char digit, bool doubled) {
  auto const d = static_cast<unsigned>(digit - '0');
  return static_cast<int>(doubled ? k_doubled[d] : d);
}

int luhn_sum_of(std::uint64_t value, bool rightmost_doubled) {
  // Each pair of digits (tens, units) at once: k_pairs[d][v] is the contribution of v's two digits,
  // its units digit doubled when d is 1.
  static constexpr auto k_pairs = [] {
    std::array<std::array<unsigned, 100>, 2> pairs{};
    for (unsigned v = 0; v < 100; ++v) {
      pairs[0][v] = v % 10 + k_doubled[v / 10];
      pairs[1][v] = k_doubled[v % 10] + v / 10;
    }
    return pairs;
  }();
  auto const& pairs = k_pairs[rightmost_doubled ? 1 : 0];
  unsigned sum = 0;  // at most 10 pairs of at most 18: no reduction needed
  while (value >= 100) {
    sum += pairs[value % 100];
    value /= 100;
  }
  // One or two digits left (a lone digit is a pair with a zero in front, which adds nothing).
  sum += pairs[value];
  return static_cast<int>(sum % 10);
}

int damm_interim(int interim, std::string_view digits) {
  for (char const c : digits) interim = k_damm[static_cast<std::size_t>(interim)][static_cast<std::size_t>(digit(c))];
  return interim;
}

int mod97_rest(int rest, std::string_view digits) {
  for (char const c : digits) rest = (rest * 10 + digit(c)) % 97;
  return rest;
}

int mod97_rest_of(int rest, std::uint64_t value, int width) {
  // (rest * 10^width + value) mod 97, with 10^width mod 97 from a table (width <= 20).
  static constexpr auto k_scales = [] {
    std::array<std::uint64_t, 21> scales{};
    scales[0] = 1;
    for (std::size_t i = 1; i < scales.size(); ++i) scales[i] = scales[i - 1] * 10 % 97;
    return scales;
  }();
  auto const scale = k_scales.at(static_cast<std::size_t>(width));
  return static_cast<int>((static_cast<std::uint64_t>(rest) * scale + value % 97) % 97);
}

void mod97_check(int rest, char* out) {
  int const check = 98 - (rest * 100) % 97;
  out[0] = static_cast<char>('0' + check / 10);
  out[1] = static_cast<char>('0' + check % 10);
}

}  // namespace partial

std::size_t check_length(Algorithm algorithm) { return algorithm == Algorithm::mod97 ? 2 : 1; }

std::expected<std::string, std::string> compute(Algorithm algorithm, std::string_view digits) {
  switch (algorithm) {
    case Algorithm::luhn:
      return luhn::compute(digits);
    case Algorithm::damm:
      return damm::compute(digits);
    case Algorithm::mod97:
      return mod97::compute(digits);
  }
  return std::unexpected(std::string("unknown check digit algorithm"));
}

std::size_t compute_to(Algorithm algorithm, std::string_view digits, char* out) {
  if (digits.empty()) return 0;
  for (char const c : digits) {
    if (c < '0' || c > '9') return 0;
  }
  switch (algorithm) {
    case Algorithm::luhn:
      out[0] = static_cast<char>('0' + (10 - luhn_sum_mod10(digits, true)) % 10);
      return 1;
    case Algorithm::damm:
      out[0] = static_cast<char>('0' + damm_interim(digits));
      return 1;
    case Algorithm::mod97: {
      int const check = 98 - (mod97_of(digits) * 100) % 97;
      out[0] = static_cast<char>('0' + check / 10);
      out[1] = static_cast<char>('0' + check % 10);
      return 2;
    }
  }
  return 0;
}

std::expected<bool, std::string> valid(Algorithm algorithm, std::string_view digits_with_check) {
  switch (algorithm) {
    case Algorithm::luhn:
      return luhn::valid(digits_with_check);
    case Algorithm::damm:
      return damm::valid(digits_with_check);
    case Algorithm::mod97:
      return mod97::valid(digits_with_check);
  }
  return std::unexpected(std::string("unknown check digit algorithm"));
}

}  // namespace pez::check_digits
