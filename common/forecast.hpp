// SPDX-License-Identifier: Apache-2.0
// Exhaustion forecasts, as pezd computes them and pez shows them: how long the numbers left in a
// sequence last at the rate it is used, and both in words a person reads at a glance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pez {

// Seconds until a sequence with left numbers runs out (or, when it cycles, wraps) at per_second
// numbers a second: 0 when none is left, +infinity at a rate of 0, nothing when the rate is not
// known.
std::optional<double> eta_seconds(std::uint64_t left, std::optional<double> per_second);

// A rate in the unit that shows it best: "12/s", "1.5k/s", "3/min", "20/h", "0.5/d"; "0/s" for
// none, "-" for a negative or not-a-number.
std::string rate_text(double per_second);

// A time ahead in its two largest units: "45s", "5m 30s", "3h 20m", "3d 4h", "2y 40d"; "now" for 0
// (or less), "over 100y" beyond a hundred years, "-" for infinity or not-a-number.
std::string eta_text(double seconds);

}  // namespace pez
