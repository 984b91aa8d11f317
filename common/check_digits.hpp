// SPDX-License-Identifier: Apache-2.0
// Check characters over a string of ASCII digits: Luhn and Damm (one digit each) and ISO 7064
// MOD 97-10 (two digits, as in IBANs and RF creditor references). A pure library: no I/O, no
// exceptions, no limit on the input's length (every sum is kept reduced, so 64 digits or 64000
// are the same).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace pez::check_digits {

enum class Algorithm {
  luhn,   // one digit; catches every single-digit error and most adjacent transpositions (not 09 <-> 90)
  damm,   // one digit; catches every single-digit error and every adjacent transposition
  mod97,  // ISO 7064 MOD 97-10: two digits, 02 to 98
};

// How many check digits the algorithm appends: 1 or 2.
std::size_t check_length(Algorithm algorithm);

// The check digits to append to digits. The error says why there are none: digits is empty or
// holds something other than 0-9.
std::expected<std::string, std::string> compute(Algorithm algorithm, std::string_view digits);

// The same without allocating, for printing many numbers: writes the check digits of digits to
// out (room for 2) and answers how many; 0 when digits is empty or holds something other than 0-9.
std::size_t compute_to(Algorithm algorithm, std::string_view digits, char* out);

// Pieces of the computations, for a text whose digits are computed over in parts (pez prints many
// numbers whose digits differ only in the middle). digits must hold only 0-9.
namespace partial {
// Luhn: the sum mod 10 of digits' contributions, their rightmost digit doubled or not.
int luhn_sum(std::string_view digits, bool rightmost_doubled);
// The same over the decimal digits of value, worked out from the number two digits at a time
// (leading zeros add nothing, so value's padded rendering has the same sum).
int luhn_sum_of(std::uint64_t value, bool rightmost_doubled);
// One digit's contribution (0-9), doubled or not.
int luhn_digit(char digit, bool doubled);
// The Luhn check digit of a payload whose sum (rightmost digit doubled) is sum (any sum >= 0).
constexpr char luhn_check(int sum) { return static_cast<char>('0' + (10 - sum % 10) % 10); }
// Damm: the interim digit after digits, starting from interim (0 at the start).
int damm_interim(int interim, std::string_view digits);
// MOD 97-10: the remainder after digits, starting from rest (0 at the start).
int mod97_rest(int rest, std::string_view digits);
// The same after value written in width digits (its decimal digits, zero-padded; width from its
// digit count to 20), worked out from the number.
int mod97_rest_of(int rest, std::uint64_t value, int width);
// The two check digits of a payload whose remainder is rest, written to out.
void mod97_check(int rest, char* out);
}  // namespace partial

// Whether the last check_length() digits of digits_with_check are the check digits of those before
// them. The error says why the question has no answer: the text holds something other than 0-9, or
// is too short to hold at least one digit besides its check digits.
std::expected<bool, std::string> valid(Algorithm algorithm, std::string_view digits_with_check);

// The same for one algorithm each.
namespace luhn {
std::expected<std::string, std::string> compute(std::string_view digits);
std::expected<bool, std::string> valid(std::string_view digits_with_check);
}  // namespace luhn

namespace damm {
std::expected<std::string, std::string> compute(std::string_view digits);
std::expected<bool, std::string> valid(std::string_view digits_with_check);
}  // namespace damm

namespace mod97 {
std::expected<std::string, std::string> compute(std::string_view digits);
std::expected<bool, std::string> valid(std::string_view digits_with_check);
}  // namespace mod97

}  // namespace pez::check_digits
