// SPDX-License-Identifier: Apache-2.0
// The periods of the fake database (fake_db.hpp): when a periodic sequence's period begins and
// ends by the database's clock, and the key it is known by (yyyymmdd of its first day, as pezd
// reads sql/007's dates; keys grow with time and 0 means no period).
//
// The database's time is a duration since 2030-01-01 00:00 UTC. A time zone is UTC or a fixed
// offset, Etc/GMT+N or Etc/GMT-N (as in the tz database, Etc/GMT-14 is 14 hours ahead of UTC).
// Periods come in two kinds:
//   - on the calendar (the default): real days, months and years in the zone, as
//     date_trunc(unit, pez.now() AT TIME ZONE zone) of sql/007 makes them (test_fake_db.py holds
//     the two to each other);
//   - of a fixed length (the simulation's: tens or hundreds of milliseconds, so that many pass in
//     a run), where the zone shifts each boundary by hours/24 of a period. The n-th period's key
//     is then the n-th day, month or year from 2030-01-01.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/alloc/store.hpp"

namespace pez::sim {

using daemon::Clock;

struct Periods {
  enum class Unit { none, day, month, year };
  Unit unit = Unit::none;
  std::optional<Clock::duration> length;  // none: on the calendar
  Clock::duration offset{};               // the zone's offset from UTC (scaled to length, if set)

  // From a sequence's period and time zone (yearly, monthly, daily; a zone the fake knows);
  // none when either is unknown. A period without zone is in UTC.
  static std::optional<Periods> make(std::string const& period, std::string const& zone,
                                     std::optional<Clock::duration> length);

  explicit operator bool() const { return unit != Unit::none; }
  // The index of the period that holds time t (0: the one holding 2030-01-01 00:00 local).
  std::int64_t index_at(Clock::duration t) const;
  // When period index ends (the next begins), in the database's time.
  Clock::duration end(std::int64_t index) const;
  // yyyymmdd of the first day of period index.
  std::int32_t key(std::int64_t index) const;
};

}  // namespace pez::sim
