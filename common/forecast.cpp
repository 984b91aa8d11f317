// SPDX-License-Identifier: Apache-2.0
#include "common/forecast.hpp"

#include <cmath>
#include <cstdio>

namespace pez {
namespace {

// 3, 2.5, 12, 1.2k, 35k, 4.1M, ...: at most three significant digits, one decimal below 10.
std::string short_number(double value) {
  static constexpr char const* k_suffixes[] = {"", "k", "M", "G", "T", "P", "E"};
  std::size_t suffix = 0;
  while (value >= 999.5 && suffix + 1 < std::size(k_suffixes)) {
    value /= 1000;
    ++suffix;
  }
  char buf[32];
  if (value < 9.95 && std::fabs(value - std::round(value)) >= 0.05) {
    std::snprintf(buf, sizeof buf, "%.1f%s", value, k_suffixes[suffix]);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f%s", value, k_suffixes[suffix]);
  }
  return buf;
}

}  // namespace

std::optional<double> eta_seconds(std::uint64_t left, std::optional<double> per_second) {
  if (left == 0) return 0.0;
  if (!per_second || std::isnan(*per_second)) return std::nullopt;
  if (*per_second <= 0) return INFINITY;
  return static_cast<double>(left) / *per_second;
}

std::string rate_text(double per_second) {
  if (std::isnan(per_second) || per_second < 0) return "-";
  if (per_second == 0) return "0/s";
  struct Unit {
    double seconds;
    char const* name;
  };
  static constexpr Unit k_units[] = {{1, "s"}, {60, "min"}, {3600, "h"}, {86400, "d"}};
  for (auto const& unit : k_units) {
    // 0.95 and up shows as 1 or more in this unit.
    if (per_second * unit.seconds >= 0.95 || unit.seconds == 86400) {
      double const value = per_second * unit.seconds;
      if (value < 0.05) return "<0.1/d";
      return short_number(value) + "/" + unit.name;
    }
  }
  return "-";
}

std::string eta_text(double seconds) {
  if (std::isnan(seconds) || std::isinf(seconds)) return "-";
  if (seconds < 1) return "now";
  constexpr double k_year = 365 * 86400.0;
  if (seconds >= 100 * k_year) return "over 100y";
  auto const whole = static_cast<std::int64_t>(seconds);
  struct Part {
    std::int64_t value;
    char const* unit;
  };
  Part const parts[] = {{whole / 31536000, "y"},
                        {whole % 31536000 / 86400, "d"},
                        {whole % 86400 / 3600, "h"},
                        {whole % 3600 / 60, "m"},
                        {whole % 60, "s"}};
  std::size_t first = 0;
  while (first + 1 < std::size(parts) && parts[first].value == 0) ++first;
  std::string out = std::to_string(parts[first].value) + parts[first].unit;
  if (first + 1 < std::size(parts)) {
    out += " " + std::to_string(parts[first + 1].value) + parts[first + 1].unit;
  }
  return out;
}

}  // namespace pez
