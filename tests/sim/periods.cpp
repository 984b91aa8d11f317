// SPDX-License-Identifier: Apache-2.0
#include "periods.hpp"

#include <charconv>

namespace pez::sim {
namespace {

using namespace std::chrono;

constexpr sys_days k_epoch{year{2030} / January / 1};

std::int64_t floor_div(Clock::duration a, Clock::duration b) {
  auto q = a / b;
  if (a % b < Clock::duration::zero()) --q;
  return q;
}

// Hours ahead of UTC: UTC, Etc/GMT+N (N hours behind, 0 to 12), Etc/GMT-N (ahead, 0 to 14).
std::optional<int> zone_hours(std::string const& zone) {
  if (zone.empty() || zone == "UTC") return 0;
  std::string const prefix = "Etc/GMT";
  if (zone.size() < prefix.size() + 2 || zone.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  char const sign = zone[prefix.size()];
  if (sign != '+' && sign != '-') return std::nullopt;
  int n = 0;
  auto const* first = zone.data() + prefix.size() + 1;
  auto const* last = zone.data() + zone.size();
  auto const [end, ec] = std::from_chars(first, last, n);
  if (ec != std::errc{} || end != last || (last - first > 1 && *first == '0')) return std::nullopt;
  if (sign == '+' ? n > 12 : n > 14) return std::nullopt;
  return sign == '+' ? -n : n;
}

std::int32_t key_of(year_month_day d) {
  return static_cast<int>(d.year()) * 10000 + static_cast<int>(static_cast<unsigned>(d.month())) * 100 +
         static_cast<int>(static_cast<unsigned>(d.day()));
}

}  // namespace

std::optional<Periods> Periods::make(std::string const& period, std::string const& zone,
                                     std::optional<Clock::duration> length) {
  Periods p;
  if (period == "daily") {
    p.unit = Unit::day;
  } else if (period == "monthly") {
    p.unit = Unit::month;
  } else if (period == "yearly") {
    p.unit = Unit::year;
  } else {
    return std::nullopt;
  }
  auto const hours_ahead = zone_hours(zone);
  if (!hours_ahead) return std::nullopt;
  p.length = length;
  p.offset = length ? *length * *hours_ahead / 24 : Clock::duration(hours(*hours_ahead));
  return p;
}

std::int64_t Periods::index_at(Clock::duration t) const {
  if (length) return floor_div(t + offset, *length);
  auto const day = floor_div(t + offset, hours(24));
  year_month_day const d{k_epoch + days(day)};
  switch (unit) {
    case Unit::day:
      return day;
    case Unit::month:
      return (static_cast<int>(d.year()) - 2030) * 12 + static_cast<int>(static_cast<unsigned>(d.month())) - 1;
    default:
      return static_cast<int>(d.year()) - 2030;
  }
}

Clock::duration Periods::end(std::int64_t index) const {
  if (length) return (index + 1) * *length - offset;
  sys_days next = k_epoch;
  switch (unit) {
    case Unit::day:
      next = k_epoch + days(index + 1);
      break;
    case Unit::month:
      next = sys_days((year_month{year{2030} / January} + months(index + 1)) / 1);
      break;
    default:
      next = sys_days(year{static_cast<int>(2030 + index + 1)} / January / 1);
  }
  return Clock::duration(next - k_epoch) - offset;
}

std::int32_t Periods::key(std::int64_t index) const {
  switch (unit) {
    case Unit::none:
      return 0;
    case Unit::day:
      return key_of(year_month_day{k_epoch + days(index)});
    case Unit::month:
      return key_of((year_month{year{2030} / January} + months(index)) / 1);
    default:
      return key_of(year{static_cast<int>(2030 + index)} / January / 1);
  }
}

}  // namespace pez::sim
