// SPDX-License-Identifier: Apache-2.0
// How fast each sequence is used by every daemon on the database together: every usage_interval
// pezd learns where each sequence stands (pez.usage(), sql/008_usage.sql; one daemon of a role
// reads it for all of them, sql/016_shared_usage.sql) and derives from how far it moved between
// the readings' times the numbers taken per second over the last minute and the last hour. Pure:
// the readings and their times come from Database; the unit tests feed them.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/sequence.hpp"

namespace pez::daemon {

// Milliseconds: of the database's clock since 1970 for a reading (each daemon of a role takes the
// readings one of them made, so their times are the database's, not the daemon's).
using UsageMillis = std::int64_t;

// One sequence as pez.usage() read it, and when.
struct Position {
  std::string name;
  std::uint32_t identity = 0;  // its oid: another sequence under the same name has another
  std::int64_t generation = 0;
  SequenceShape shape;
  std::int64_t last_value = 0;
  bool is_called = false;
  std::int32_t period = 0;  // of a periodic sequence: the one its counter is in (yyyymmdd); 0: none
  UsageMillis read_at = 0;
};

// The numbers a sequence moved by over a window, and how long the window was (up to its nominal
// length: less while fewer readings exist; a little more when readings are further apart).
struct Rate {
  std::uint64_t numbers = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(numbers) / seconds : 0; }
};

// The readings of one sequence: where it stood last, and how many numbers it had moved by at a
// few earlier times (every 10 s over the last minute, every 5 min over the last hour). Some 300
// bytes, so that 10,000 sequences cost a few megabytes.
class UsageTrack {
 public:
  static constexpr UsageMillis k_minute = 60'000;
  static constexpr UsageMillis k_hour = 3'600'000;

  // A reading taken at at (later than the previous one; an earlier or equal one is ignored).
  // The windows start again when the sequence is another one (dropped and created again), was
  // reset (its generation changed), changed shape, or has more numbers left without cycling
  // (moved back by hand). More left in a sequence that cycles is a wrap: the numbers up to the
  // end of the range and those from its start count (once: two wraps between readings count as
  // one). A periodic sequence in a new period counts the numbers from its start on (those of the
  // old period after the previous reading are not known); so does one set back while the period
  // read is still the one before (a take entering the new period has set the counter back but not
  // yet committed the period), and the new period, read next, continues from there. (One that
  // cycles as well: a wrap within a period counts from the start too, without what was left.)
  void read(Position const& position, UsageMillis at);

  bool known() const { return m_readings > 0; }
  // Numbers left before it runs out, or wraps when it cycles (the next one included), as read.
  std::uint64_t left() const { return m_left; }
  bool cycles() const { return m_cycle; }
  // Over the last minute and hour; nothing until two readings of the same sequence exist.
  std::optional<Rate> minute() const;
  std::optional<Rate> hour() const;

 private:
  // The numbers moved by (taken) at up to K earlier readings, oldest first, K apart within a
  // window. Times are kept modulo 2^32 ms: every age that matters is far below 49 days.
  template <std::size_t K>
  struct Ring {
    std::array<std::uint32_t, K> at{};
    std::array<std::uint64_t, K> taken{};
    std::uint8_t size = 0;
    std::uint8_t next = 0;
    std::size_t slot(std::size_t i) const { return (next + K - size + i) % K; }
    void clear() { size = next = 0; }
    // Keeps a point when none is kept yet or the newest is spacing old.
    void offer(std::uint32_t now, std::uint64_t taken_now, UsageMillis spacing);
    std::optional<Rate> over(std::uint32_t now, std::uint64_t taken_now, UsageMillis window) const;
  };
  bool same_sequence(Position const& p) const;
  void restart();

  std::int64_t m_generation = 0;
  std::int64_t m_increment = 0;
  std::int64_t m_min = 0;
  std::int64_t m_max = 0;
  std::uint64_t m_left = 0;
  std::uint64_t m_taken = 0;  // since the windows started (modulo 2^64: only differences count)
  std::uint32_t m_identity = 0;
  std::uint32_t m_at = 0;
  std::uint32_t m_readings = 0;
  std::int32_t m_period = 0;
  bool m_cycle = false;
  bool m_entering = false;  // set back under m_period: the new period's start is counted
  Ring<6> m_minute;
  Ring<12> m_hour;
};

// Every sequence's track, by name. Database reads the positions page by page: a round starts,
// its pages are read, and when it ends the sequences it did not meet (dropped) are forgotten.
class Usage {
 public:
  // The number of the round that starts; a reading of it is marked so.
  std::uint64_t begin_round() { return ++m_round; }
  // A position, read at its read_at.
  void read(Position const& position, std::uint64_t round);
  // Forgets the sequences that neither this round nor a later one read. (Rounds may overlap when
  // one outlasts usage_interval.)
  void end_round(std::uint64_t round);

  UsageTrack const* find(std::string_view name) const;
  // Whether any round ended: the forecasts are there to show.
  bool measured() const { return m_rounds_ended > 0; }

  struct Entry {
    UsageTrack track;
    std::uint64_t round = 0;  // the latest round that read it
  };
  std::map<std::string, Entry, std::less<>> const& all() const { return m_tracks; }

 private:
  std::map<std::string, Entry, std::less<>> m_tracks;
  std::uint64_t m_round = 0;
  std::uint64_t m_rounds_ended = 0;
};

}  // namespace pez::daemon
