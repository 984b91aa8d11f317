// SPDX-License-Identifier: Apache-2.0
// The template of a formatted sequence (DESIGN §5): INV-{YYYY}-{n:06} turns the number 42 taken in
// 2026 into INV-2026-000042. A pure library: parsing a template, rendering a number through it,
// and reading a rendering back (for pez check).
//
// Fields: {n} the number; {n:0W} the number zero-padded to W digits (W 1 to 19; never truncated,
// a longer number prints whole); {YYYY} {YY} {MM} {DD} the period the number belongs to; {check}
// the check characters (Luhn, Damm or ISO 7064 MOD 97-10) of every digit rendered before it,
// literal digits included, every other character skipped: INV-2026-000042-{check} checks
// "2026000042". Literals: printable ASCII without spaces, quotes (' and "), backslashes or braces.
//
// Why two different numbers never render alike. Every part of a template but {n} renders a fixed
// number of characters: a literal itself, {YYYY} four digits (years 1 to 9999), {YY} {MM} {DD}
// two, {check} one or two. So in any rendering the number's digits are the rendering's length
// minus a constant, every part sits at a known place, and each part can be read back: the number
// from its digits (a zero-padded decimal belongs to one number only), the year from {YYYY}, the
// month from {MM}, the day from {DD}. A template must hold exactly one {n}, and a periodic
// sequence's template the fields that name its period: {YYYY} for a yearly one, {YYYY} and {MM}
// for a monthly one, all three for a daily one. Then the pair (number, period) is read back from
// every rendering, and as a sequence gives each number at most once per period, no string is ever
// given twice. The rules that follow from it:
//   - {YY} alone does not name a year ({YY} of 2026 and 2126 are both 26): it may only accompany
//     {YYYY}.
//   - Date fields finer than the period are refused (a yearly counter with {MM}), and a sequence
//     without a period takes none: the fields show the period the number belongs to, so a number
//     has exactly one rendering, the one pez check accepts.
//   - {check} comes after every other field, so it covers all of them: a single mistyped digit
//     anywhere is caught (a field after {check} could be changed unnoticed). Only literals may
//     follow it; they are not in the check, but a changed literal is no rendering at all.
// One more rule is for readers, not for uniqueness (the length argument above already separates
// {n}{YYYY}'s 1 of 2026, "12026", from 12 of 2026, "122026"): a number that can vary in width is
// not followed directly by digits, a date field or a literal starting with a digit, since a reader
// could not tell where it ends. Padding to the range's widest number (or a range whose numbers
// all have one width) or a non-digit between them makes it readable; {check} may follow it
// directly, as check digits usually do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pez::number_template {

// How often the counter starts again (--period); none for an ordinary sequence.
enum class Period { none, yearly, monthly, daily };

// The check characters the template's {check} renders (--check); none without {check}.
enum class Check { none, luhn, damm, mod97 };

// "none", "yearly", ... and back (the names the options take); nullopt for an unknown name.
std::string_view name(Period period);
std::string_view name(Check check);
std::optional<Period> period_named(std::string_view text);
std::optional<Check> check_named(std::string_view text);

// What the sequence says about the template: its period, its check algorithm and its range (the
// numbers it can hand out, min to max; a formatted sequence's numbers are 0 or more).
struct TemplateRules {
  Period period = Period::none;
  Check check = Check::none;
  std::int64_t min = 1;
  std::int64_t max = INT64_MAX;
};

// The period a number belongs to. Only the fields the template shows are used (a yearly
// template's month and day are ignored).
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  friend bool operator==(Date const&, Date const&) = default;
};

// The longest rendering a template may have, in bytes.
inline constexpr std::size_t k_max_rendered = 64;

enum class Field { literal, number, year, year2, month, day, check };

struct Part {
  Field field = Field::literal;
  std::string literal;  // a literal's text
  int width = 0;        // the number's padding (0 for none); the fixed width of every other part
};

class NumberTemplate {
 public:
  std::string const& text() const { return text_; }
  TemplateRules const& rules() const { return rules_; }
  std::vector<Part> const& parts() const { return parts_; }
  // The bytes of the longest rendering: the range's widest number padded, and everything else.
  std::size_t longest() const { return longest_; }

 private:
  friend std::expected<NumberTemplate, std::string> parse(std::string_view text, TemplateRules rules);
  NumberTemplate() = default;

  std::string text_;
  TemplateRules rules_;
  std::vector<Part> parts_;
  std::size_t longest_ = 0;
};

// The template in text, for a sequence with rules; the error says what is wrong and what is
// allowed, in one line (untrusted text in it quoted).
std::expected<NumberTemplate, std::string> parse(std::string_view text, TemplateRules rules);

// Appends / returns n rendered for period. Preconditions, checked (a violation aborts, as it is a
// bug in the caller and rendering anyway could give a string twice): min <= n <= max of the
// template's rules (so n is never negative), and the date fields the template shows hold a real
// date with a year from 1 to 9999.
void render_to(std::string& out, NumberTemplate const& tmpl, std::int64_t n, Date period);
std::string render(NumberTemplate const& tmpl, std::int64_t n, Date period);

// Renders many numbers of one period, as render_to does, faster: what does not depend on the
// number (literals, the date, the check's state over their digits) is worked out once, and each
// number is written straight into the caller's buffer. The preconditions of render_to hold for the
// period at construction and for each number.
class Renderer {
 public:
  Renderer(NumberTemplate const& tmpl, Date period);
  // The bytes a rendering may take at most (the template's longest()).
  std::size_t longest() const { return m_longest; }
  // Writes n's rendering at at, which has room for longest() bytes; answers where it ends.
  char* write(char* at, std::int64_t n) const;
  void append(std::string& out, std::int64_t n) const;

  // The rendering written last, for writing many: a number one above or below the last one
  // (as the numbers of a block are), whose last digit is not carried, is the last rendering
  // copied with that digit and the check characters changed. The rendering must still be where
  // it was written, unchanged (one buffer, written front to back).
  struct Last {
    char const* at = nullptr;  // none yet
    std::size_t size = 0;
    std::int64_t n = 0;
    int state = 0;  // what the check was worked out from (see write)
  };
  // The same as write(at, n), faster after a neighbour of n; last is then n's rendering.
  char* write(char* at, std::int64_t n, Last& last) const;

 private:
  char* write_check(char* at, int state, char last_digit) const;

  // A template holds exactly one {n}, and {check} follows every other field: a rendering is
  // m_head, the number, m_middle, the check characters (if any), m_tail.
  std::string m_head;
  std::string m_middle;
  std::string m_tail;              // literals after {check}
  int m_width = 0;                 // the number's padding
  std::size_t m_after_number = 0;  // the bytes of a rendering after the number
  std::size_t m_longest = 0;
  std::int64_t m_min = 0;
  std::int64_t m_max = 0;
  bool m_check = false;
  Check m_algorithm = Check::none;
  // The check's state over the digits before the number and after it (up to {check}), computed
  // once: only the number's digits are computed over for each number.
  std::string m_digits_after;
  int m_luhn_before[2] = {0, 0};  // the digits before, their rightmost digit not doubled / doubled
  int m_luhn_after = 0;
  int m_state_before = 0;  // Damm's interim or MOD 97's remainder after the digits before
};

// The rendering pez admin inspect shows: the range's first number, on 2026-01-01.
std::string example(NumberTemplate const& tmpl);

// A rendering read back: the number and the period (the date fields the template lacks are 0).
struct Reading {
  std::int64_t n = 0;
  Date period;
  friend bool operator==(Reading const&, Reading const&) = default;
};

// Reads value back, for pez check: its number and period if value is exactly what render gives
// for them, that is if it has the template's shape (its literals, digits where the fields are,
// the number within the range and written as the template writes it, a real date, {YY} agreeing
// with {YYYY}) and its check characters are right. Otherwise the error says which of these fails.
// A value of the wrong shape is simply not valid: it is never an error of the question.
std::expected<Reading, std::string> parse_rendered(NumberTemplate const& tmpl, std::string_view value);

// Whether parse_rendered reads value back: true exactly for the strings render can give.
bool valid(NumberTemplate const& tmpl, std::string_view value);

}  // namespace pez::number_template
