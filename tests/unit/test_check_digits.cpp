// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_digits.hpp"

namespace cd = pez::check_digits;
using cd::Algorithm;

namespace {

std::string computed(Algorithm algorithm, std::string_view digits) {
  auto result = cd::compute(algorithm, digits);
  REQUIRE(result.has_value());
  return *result;
}

bool is_valid(Algorithm algorithm, std::string_view digits) {
  auto result = cd::valid(algorithm, digits);
  REQUIRE(result.has_value());
  return *result;
}

// An IBAN as the digits MOD 97-10 takes: the first four characters moved to the end, each letter
// replaced by its number (A = 10 ... Z = 35).
std::string iban_digits(std::string_view iban) {
  std::string moved = std::string(iban.substr(4)) + std::string(iban.substr(0, 4));
  std::string out;
  for (char const c : moved) {
    if (c >= 'A' && c <= 'Z') {
      out += std::to_string(c - 'A' + 10);
    } else {
      out += c;
    }
  }
  return out;
}

constexpr Algorithm k_all[] = {Algorithm::luhn, Algorithm::damm, Algorithm::mod97};

// 101 digits (3 and the first hundred decimals of pi); the expected check digits were computed
// separately with arbitrary-precision integers.
constexpr std::string_view k_long =
    "31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679";

}  // namespace

TEST_CASE("check digits: Luhn, with the published example 7992739871 -> 3") {
  CHECK(cd::luhn::compute("7992739871") == "3");
  CHECK(cd::luhn::valid("79927398713") == true);
  for (char wrong : std::string_view("012456789")) {
    CAPTURE(wrong);
    CHECK(cd::luhn::valid(std::string("7992739871") + wrong) == false);
  }
  // The test card numbers payment networks publish pass.
  CHECK(is_valid(Algorithm::luhn, "4111111111111111"));
  CHECK(is_valid(Algorithm::luhn, "378282246310005"));
  CHECK(is_valid(Algorithm::luhn, "5555555555554444"));
  CHECK(computed(Algorithm::luhn, "0") == "0");
  CHECK(computed(Algorithm::luhn, "1") == "8");
}

TEST_CASE("check digits: Damm, with the published example 572 -> 4") {
  CHECK(cd::damm::compute("572") == "4");
  CHECK(cd::damm::valid("5724") == true);
  CHECK(cd::damm::valid("5723") == false);
  CHECK(computed(Algorithm::damm, "0") == "0");
}

TEST_CASE("check digits: ISO 7064 MOD 97-10, with the standard's 794 -> 44 and real IBANs") {
  CHECK(cd::mod97::compute("794") == "44");
  CHECK(cd::mod97::valid("79444") == true);
  CHECK(cd::mod97::valid("79445") == false);

  auto const gb = iban_digits("GB82WEST12345698765432");
  CHECK(gb == "3214282912345698765432161182");
  CHECK(is_valid(Algorithm::mod97, gb));
  // The IBAN's own check digits are computed over the rest with 00 in their place.
  CHECK(computed(Algorithm::mod97, iban_digits("GB00WEST12345698765432").substr(0, gb.size() - 2)) == "82");
  CHECK(is_valid(Algorithm::mod97, iban_digits("DE89370400440532013000")));
  CHECK_FALSE(is_valid(Algorithm::mod97, iban_digits("GB82WEST12345698765433")));
  CHECK_FALSE(is_valid(Algorithm::mod97, iban_digits("GB28WEST12345698765432")));

  // Check digits are always two, 02 to 98, zero-padded.
  for (int n = 0; n < 2000; ++n) {
    auto const check = computed(Algorithm::mod97, std::to_string(n));
    CAPTURE(n);
    REQUIRE(check.size() == 2);
    CHECK(check >= "02");
    CHECK(check <= "98");
  }
  // 99 is congruent to 02 modulo 97, so a number whose check digits are 02 still leaves 1 with 99 in
  // their place; only the computed digits are valid.
  auto const check = computed(Algorithm::mod97, "32");
  REQUIRE(check == "02");
  CHECK(is_valid(Algorithm::mod97, "3202"));
  CHECK_FALSE(is_valid(Algorithm::mod97, "3299"));
}

TEST_CASE("check digits: a number followed by its check digits is valid, with any other check digits not") {
  for (auto algorithm : k_all) {
    for (std::string_view sample :
         std::initializer_list<std::string_view>{"0", "7", "42", "1000", "20261130", "9223372036854775807", k_long}) {
      CAPTURE(static_cast<int>(algorithm));
      CAPTURE(sample);
      auto const check = computed(algorithm, sample);
      CHECK(check.size() == cd::check_length(algorithm));
      CHECK(is_valid(algorithm, std::string(sample) + check));
      for (int other = 0; other < (algorithm == Algorithm::mod97 ? 100 : 10); ++other) {
        std::string wrong = std::to_string(other);
        if (wrong.size() < check.size()) wrong.insert(0, check.size() - wrong.size(), '0');
        if (wrong == check) continue;
        CHECK_FALSE(is_valid(algorithm, std::string(sample) + wrong));
      }
    }
  }
}

TEST_CASE("check digits: long inputs do not overflow") {
  CHECK(computed(Algorithm::luhn, k_long) == "3");
  CHECK(computed(Algorithm::damm, k_long) == "3");
  CHECK(computed(Algorithm::mod97, k_long) == "07");
  std::string const nines(10000, '9');
  for (auto algorithm : k_all) {
    CAPTURE(static_cast<int>(algorithm));
    CHECK(is_valid(algorithm, nines + computed(algorithm, nines)));
  }
}

TEST_CASE("check digits: every single-digit substitution is caught by all three") {
  for (auto algorithm : k_all) {
    for (std::string_view sample : {"5724", "79927398713", "3214282912345698765432161182"}) {
      std::string const base = std::string(sample.substr(0, sample.size() - cd::check_length(algorithm)));
      std::string const whole = base + computed(algorithm, base);
      for (std::size_t at = 0; at < whole.size(); ++at) {
        for (char d = '0'; d <= '9'; ++d) {
          if (d == whole[at]) continue;
          std::string changed = whole;
          changed[at] = d;
          CAPTURE(static_cast<int>(algorithm));
          CAPTURE(changed);
          CHECK_FALSE(is_valid(algorithm, changed));
        }
      }
    }
  }
}

TEST_CASE("check digits: adjacent transpositions: Damm catches all, Luhn misses 09 <-> 90") {
  // Every pair of different adjacent digits, swapped, in front of and behind other digits.
  int luhn_missed = 0;
  for (char a = '0'; a <= '9'; ++a) {
    for (char b = '0'; b <= '9'; ++b) {
      if (a == b) continue;
      for (std::string_view around : {"", "3", "58"}) {
        std::string const payload = std::string(around) + a + b + "1";
        std::string const swapped = std::string(around) + b + a + "1";
        CAPTURE(payload);
        CHECK_FALSE(is_valid(Algorithm::damm, swapped + computed(Algorithm::damm, payload)));
        CHECK_FALSE(is_valid(Algorithm::mod97, swapped + computed(Algorithm::mod97, payload)));
        if (is_valid(Algorithm::luhn, swapped + computed(Algorithm::luhn, payload))) {
          ++luhn_missed;
          bool const nine_zero = (a == '0' && b == '9') || (a == '9' && b == '0');
          CHECK(nine_zero);
        }
      }
    }
  }
  CHECK(luhn_missed == 6);  // 09 and 90, in each of the three places
  // The known case, written out: 9 0 and 0 9 in the same place give the same Luhn check digit.
  CHECK(computed(Algorithm::luhn, "190") == computed(Algorithm::luhn, "109"));
  CHECK(computed(Algorithm::damm, "190") != computed(Algorithm::damm, "109"));
}

TEST_CASE("check digits: Damm's table is a quasigroup with a zero diagonal") {
  // compute gives the interim digit after the last one. The one-digit prefixes reach every interim
  // digit; from each, the ten next digits lead to ten different interim digits (rows are
  // permutations), and one next digit from the ten interim digits to ten different ones (columns
  // are); the interim digit itself leads to 0 (the diagonal).
  std::string prefixes;
  for (char p = '0'; p <= '9'; ++p) {
    auto const interim = computed(Algorithm::damm, std::string(1, p));
    REQUIRE(prefixes.find(interim) == std::string::npos);
    prefixes += interim;
  }
  for (char p = '0'; p <= '9'; ++p) {
    std::string row;
    std::string column;
    for (char d = '0'; d <= '9'; ++d) {
      row += computed(Algorithm::damm, std::string(1, p) + d);
      column += computed(Algorithm::damm, std::string(1, d) + p);
    }
    CAPTURE(p);
    for (char d = '0'; d <= '9'; ++d) {
      CHECK(row.find(d) != std::string::npos);
      CHECK(column.find(d) != std::string::npos);
    }
    CHECK(computed(Algorithm::damm, std::string(1, p) + computed(Algorithm::damm, std::string(1, p))) == "0");
  }
}

TEST_CASE("check digits: empty input and anything but ASCII digits are refused with a reason") {
  for (auto algorithm : k_all) {
    CAPTURE(static_cast<int>(algorithm));
    for (std::string_view bad :
         std::initializer_list<std::string_view>{"", "12a4", " 123", "123 ", "-12", "+12", "1.2", "١٢٣",
                                                 std::string_view("12\0"
                                                                  "3",
                                                                  4),
                                                 "GB82WEST12345698765432"}) {
      CAPTURE(bad);
      auto const c = cd::compute(algorithm, bad);
      REQUIRE_FALSE(c.has_value());
      CHECK_FALSE(c.error().empty());
      auto const v = cd::valid(algorithm, bad);
      REQUIRE_FALSE(v.has_value());
      CHECK_FALSE(v.error().empty());
    }
    CHECK(cd::compute(algorithm, "").error().find("at least 1 digit") != std::string::npos);
    CHECK(cd::compute(algorithm, "12a4").error().find("0-9") != std::string::npos);
    CHECK(cd::compute(algorithm, "12a4").error().find("12a4") != std::string::npos);
    CHECK(cd::valid(algorithm, "a").error().find("0-9") != std::string::npos);
    // A check needs at least one digit besides its check digits.
    std::string const only_check(cd::check_length(algorithm), '0');
    REQUIRE_FALSE(cd::valid(algorithm, only_check).has_value());
    CHECK(cd::valid(algorithm, only_check).error().find("at least") != std::string::npos);
  }
}

TEST_CASE("check digits: computed in parts and without allocating, the same as whole") {
  namespace partial = pez::check_digits::partial;
  std::mt19937_64 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string digits;
    for (auto n = 1 + rng() % 40; n > 0; --n) digits += static_cast<char>('0' + rng() % 10);
    CAPTURE(digits);
    auto const cut1 = rng() % (digits.size() + 1);
    auto const cut2 = cut1 + rng() % (digits.size() - cut1 + 1);
    std::string_view const a(digits.data(), cut1);
    std::string_view const b(digits.data() + cut1, cut2 - cut1);
    std::string_view const c(digits.data() + cut2, digits.size() - cut2);
    char out[2];

    auto const luhn = pez::check_digits::compute(Algorithm::luhn, digits).value();
    CHECK(pez::check_digits::compute_to(Algorithm::luhn, digits, out) == 1);
    CHECK(std::string(out, 1) == luhn);
    int const sum = partial::luhn_sum(c, true) + partial::luhn_sum(b, c.size() % 2 == 0) +
                    partial::luhn_sum(a, (b.size() + c.size()) % 2 == 0);
    CHECK(std::string(1, partial::luhn_check(sum)) == luhn);

    auto const damm = pez::check_digits::compute(Algorithm::damm, digits).value();
    CHECK(pez::check_digits::compute_to(Algorithm::damm, digits, out) == 1);
    CHECK(std::string(out, 1) == damm);
    CHECK(std::string(1, static_cast<char>(
                             '0' + partial::damm_interim(partial::damm_interim(partial::damm_interim(0, a), b), c))) ==
          damm);

    auto const mod97 = pez::check_digits::compute(Algorithm::mod97, digits).value();
    CHECK(pez::check_digits::compute_to(Algorithm::mod97, digits, out) == 2);
    CHECK(std::string(out, 2) == mod97);
    partial::mod97_check(partial::mod97_rest(partial::mod97_rest(partial::mod97_rest(0, a), b), c), out);
    CHECK(std::string(out, 2) == mod97);
  }
  char out[2];
  CHECK(pez::check_digits::compute_to(Algorithm::luhn, "", out) == 0);
  CHECK(pez::check_digits::compute_to(Algorithm::mod97, "12a", out) == 0);
}

TEST_CASE("check digits: worked out from a number, the same as over its padded digits") {
  namespace partial = pez::check_digits::partial;
  std::mt19937_64 rng(11);
  std::vector<std::uint64_t> values{
      0, 1, 9, 10, 99, 100, 101, 999999999, 1000000000, 9223372036854775807ULL, 18446744073709551615ULL};
  // Every width of digits, from 1 to 20, each several times.
  for (int digits = 1; digits <= 20; ++digits) {
    for (int k = 0; k < 50; ++k) {
      std::uint64_t v = 1 + rng() % 9;
      for (int i = 1; i < digits; ++i) v = v * 10 + rng() % 10;
      values.push_back(v);
    }
  }
  for (auto const value : values) {
    auto const text = std::to_string(value);
    for (std::size_t width = text.size(); width <= 20; ++width) {
      std::string const padded = std::string(width - text.size(), '0') + text;
      CAPTURE(padded);
      for (bool const doubled : {false, true}) {
        CHECK(partial::luhn_sum_of(value, doubled) == partial::luhn_sum(padded, doubled));
      }
      for (int const rest : {0, 1, 42, 96}) {
        CHECK(partial::mod97_rest_of(rest, value, static_cast<int>(width)) == partial::mod97_rest(rest, padded));
      }
    }
  }
  for (char d = '0'; d <= '9'; ++d) {
    for (bool const doubled : {false, true}) {
      CHECK(partial::luhn_digit(d, doubled) == partial::luhn_sum(std::string(1, d), doubled));
    }
  }
  for (int sum = 0; sum < 200; ++sum) {
    CHECK((sum + (partial::luhn_check(sum) - '0')) % 10 == 0);
  }
}
