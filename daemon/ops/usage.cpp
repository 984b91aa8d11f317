// SPDX-License-Identifier: Apache-2.0
#include "daemon/ops/usage.hpp"

#include <limits>

namespace pez::daemon {

template <std::size_t K>
void UsageTrack::Ring<K>::offer(std::uint32_t now, std::uint64_t taken_now, UsageMillis spacing) {
  if (size > 0 && static_cast<std::uint32_t>(now - at[slot(size - 1)]) < spacing) return;
  at[next] = now;
  taken[next] = taken_now;
  next = static_cast<std::uint8_t>((next + 1) % K);
  if (size < K) ++size;
}

// From the oldest point at most window old (the latest reading itself aside); when every point is
// older, from the newest of them, so that readings further apart than the window still give the
// rate between the last two.
template <std::size_t K>
std::optional<Rate> UsageTrack::Ring<K>::over(std::uint32_t now, std::uint64_t taken_now, UsageMillis window) const {
  std::optional<std::size_t> base;
  for (std::size_t i = 0; i < size; ++i) {
    auto const age = static_cast<std::uint32_t>(now - at[slot(i)]);
    if (age > 0 && age <= window) {
      base = i;
      break;
    }
  }
  if (!base) {
    for (std::size_t i = size; i-- > 0;) {
      if (static_cast<std::uint32_t>(now - at[slot(i)]) > window) {
        base = i;
        break;
      }
    }
  }
  if (!base) return std::nullopt;
  auto const age = static_cast<std::uint32_t>(now - at[slot(*base)]);
  return Rate{taken_now - taken[slot(*base)], static_cast<double>(age) / 1000.0};
}

bool UsageTrack::same_sequence(Position const& p) const {
  return m_readings > 0 && p.identity == m_identity && p.generation == m_generation &&
         p.shape.increment == m_increment && p.shape.min == m_min && p.shape.max == m_max && p.shape.cycle == m_cycle;
}

void UsageTrack::restart() {
  m_taken = 0;
  m_readings = 0;
  m_entering = false;
  m_minute.clear();
  m_hour.clear();
}

void UsageTrack::read(Position const& p, UsageMillis at) {
  auto const now = static_cast<std::uint32_t>(at);
  if (m_readings > 0 && static_cast<std::int32_t>(now - m_at) <= 0) return;
  auto const view = outlook(p.shape, p.last_value, p.is_called);
  auto const from_start = [&] {
    auto const all = outlook(p.shape, p.shape.start, false).left;
    return all >= view.left ? all - view.left : 0;
  };
  bool const set_back = (!p.is_called && view.left != m_left) || view.left > m_left;
  if (!same_sequence(p)) {
    restart();
  } else if (p.period != m_period) {
    // Started again at its start in the new period, unless that start was counted already
    // (below) and the counter has only moved on since.
    m_taken += m_entering && !set_back ? m_left - view.left : from_start();
    m_entering = false;
  } else if (p.period != 0 && set_back) {
    // A take is entering a new period: it set the counter back at once (a sequence's state is
    // not transactional), and its new period shows when its transaction commits.
    m_taken += from_start();
    m_entering = true;
  } else if (!p.is_called && view.left != m_left) {
    // Not called, yet elsewhere than before: set there (a reset read before its new generation
    // is committed, or setval by hand), not moved by takes.
    restart();
  } else if (view.left <= m_left) {
    m_taken += m_left - view.left;
  } else if (p.shape.cycle) {
    // To the end of the range, then from its start to where it stands.
    std::uint64_t moved = 0;
    if (__builtin_add_overflow(m_left, view.size - view.left, &moved)) {
      moved = std::numeric_limits<std::uint64_t>::max();
    }
    m_taken += moved;
  } else {
    restart();
  }
  m_identity = p.identity;
  m_generation = p.generation;
  m_increment = p.shape.increment;
  m_min = p.shape.min;
  m_max = p.shape.max;
  m_cycle = p.shape.cycle;
  m_period = p.period;
  m_left = view.left;
  m_at = now;
  if (m_readings < std::numeric_limits<std::uint32_t>::max()) ++m_readings;
  m_minute.offer(now, m_taken, k_minute / 6);
  m_hour.offer(now, m_taken, k_hour / 12);
}

std::optional<Rate> UsageTrack::minute() const {
  if (m_readings < 2) return std::nullopt;
  return m_minute.over(m_at, m_taken, k_minute);
}

std::optional<Rate> UsageTrack::hour() const {
  if (m_readings < 2) return std::nullopt;
  return m_hour.over(m_at, m_taken, k_hour);
}

void Usage::read(Position const& position, std::uint64_t round) {
  auto it = m_tracks.find(position.name);
  if (it == m_tracks.end()) it = m_tracks.emplace(position.name, Entry{}).first;
  it->second.track.read(position, position.read_at);
  if (round > it->second.round) it->second.round = round;
}

void Usage::end_round(std::uint64_t round) {
  std::erase_if(m_tracks, [round](auto const& entry) { return entry.second.round < round; });
  ++m_rounds_ended;
}

UsageTrack const* Usage::find(std::string_view name) const {
  auto it = m_tracks.find(name);
  return it == m_tracks.end() ? nullptr : &it->second.track;
}

}  // namespace pez::daemon
