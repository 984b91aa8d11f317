// SPDX-License-Identifier: Apache-2.0
// The fake of the database seam: schema pez's functions (sql/), in process. It keeps each
// sequence as PostgreSQL does (last_value, is_called) and answers pez.take(_dated),
// pez.reserve(_dated), pez.create_sequence, pez.reset_sequence, pez.drop_sequence and the catalog
// read as they do. A periodic sequence starts again at its start each period of the database's
// clock (pez.now(), moved by the simulation), entered as pez.enter_period enters it (periods.hpp).
// test_fake_db.py runs one script of operations through it (pez-sim --script) and through a real
// PostgreSQL and compares every answer.
//
// It also keeps what the simulation's model needs: each life of a sequence (create to drop),
// each generation (create or reset), each period, each pass over the range (a wrap starts the
// next), and a record of every number it handed out.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/alloc/store.hpp"
#include "periods.hpp"

namespace pez::sim {

// Wide enough for sums past the largest value.
__extension__ using i128 = __int128;

using daemon::Block;
using daemon::SequenceInfo;
using daemon::SequenceRow;
using daemon::StoreError;
using daemon::Taken;

// Where one number handed out belongs.
struct Origin {
  std::uint64_t life = 0;
  std::int64_t generation = 0;
  std::int32_t period = 0;  // the key of a periodic sequence's period (0: none)
  std::uint64_t pass = 0;   // within the generation and the period
};

class FakeDb {
 public:
  FakeDb();

  // pez.take_dated(seq, n): n numbers, all or none, and their period.
  std::expected<Taken, StoreError> take_dated(std::string const& name, std::int64_t n,
                                              std::vector<Origin>* origins = nullptr);
  // pez.take(seq, n): the numbers of take_dated.
  std::expected<std::vector<std::int64_t>, StoreError> take(std::string const& name, std::int64_t n,
                                                            std::vector<Origin>* origins = nullptr);
  // pez.reserve_dated(seq, n): the block with its period and what is left of it (pez.reserve is
  // the same without them).
  std::expected<Block, StoreError> reserve(std::string const& name, std::int64_t n, Origin* origin = nullptr);
  // pez.create_sequence(...): the generation. A period (with a format, as sql/007 wants) makes
  // the sequence periodic: its periods are those of set_period_lengths when it is created.
  std::expected<std::int64_t, StoreError> create(CreateSpec const& spec);
  // pez.create_sequences(...) (sql/010): each create in turn, apart; each one's generation or refusal.
  std::vector<std::expected<std::int64_t, StoreError>> create_many(std::vector<CreateSpec> const& specs);
  // pez.reset_sequence(name, to): the generation.
  std::expected<std::int64_t, StoreError> reset(std::string const& name, std::optional<std::int64_t> to);
  // pez.drop_sequence(name).
  std::expected<void, StoreError> drop(std::string const& name);
  // CREATE SEQUENCE pez.name ... by hand: no row in pez.sequences (generation 0).
  void create_by_hand(std::string const& name, std::int64_t increment, std::int64_t min, std::int64_t max,
                      std::int64_t start, bool cycle);
  // pez.numbers_left(seq), saturated at 2^64-1.
  std::expected<std::uint64_t, StoreError> numbers_left(std::string const& name) const;

  // The database's clock, pez.now(): the time since 2030-01-01 00:00 UTC. It follows the base
  // clock (set_clock; without one it stands still), moved by move_clock either way.
  void set_clock(std::function<Clock::time_point()> base);
  void move_clock(Clock::duration by);
  Clock::duration now() const;
  // The latest time the clock has shown (it may have been moved back since).
  Clock::duration latest() const;
  // The clock periods are judged by (pez.period_clock(), sql/011): now, or the start of the
  // latest period a take entered anew if now is behind it (the floor, which a rollback keeps).
  Clock::duration period_clock() const;
  // How long the periods of sequences created from now on last: none (the default) for days,
  // months and years on the calendar; the simulation's lengths, for yearly, monthly and daily.
  void set_period_lengths(std::optional<std::array<Clock::duration, 3>> lengths) { m_lengths = lengths; }
  // The periods of a life of a sequence (none without period).
  Periods periods_of(std::uint64_t life) const;
  // For the model, not operations of the database: the period a take of name would be in now
  // (0 without period), and the numbers it would find left (a new period starts it again).
  std::int32_t period_now(std::string const& name) const;
  std::optional<std::uint64_t> left_now(std::string const& name) const;

  // A transaction of takes and reserves that rolls back (a statement of several that fails, a
  // connection that breaks before the commit): what it undoes is the periods entered (the rows of
  // pez.sequences); the counters stay where it moved them (setval and nextval are not undone).
  struct Snapshot {
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>> current;  // name: life, period index
  };
  Snapshot snapshot() const;
  void roll_back(Snapshot const& before);

  // The catalog read of pezd (k_catalog_sql) and pez admin list (k_list_sql).
  std::vector<SequenceInfo> catalog() const;
  std::vector<SequenceRow> describe(std::string const& name) const;

  bool exists(std::string const& name) const { return m_sequences.contains(name); }
  // Every call above counts as one operation, in the order they ran: the simulation's model
  // orders what happened in the database by these numbers.
  std::uint64_t ops() const { return m_ops; }
  SequenceInfo const* info(std::string const& name) const;
  std::uint64_t life_of(std::string const& name) const;
  // Where the first pass of a generation in a period starts (the start, or the value of a reset).
  std::int64_t origin_of(std::uint64_t life, std::int64_t generation, std::int32_t period = 0) const;

  // Called after each change commits, with the sequence's name (the NOTIFY of the SQL).
  std::function<void(std::string const& name)> on_change;

 private:
  struct Sequence {
    SequenceInfo info;
    bool has_row = true;
    std::int64_t last_value = 0;
    bool is_called = false;
    std::uint64_t life = 0;
    std::uint64_t pass = 0;
    // A periodic sequence's periods and the index of the one entered last (current_period).
    Periods periods;
    std::int64_t current = 0;
  };
  struct Entered {
    std::int32_t period = 0;
    std::optional<Clock::duration> valid_for;
  };
  // nextval(): the next number, or none when it does not cycle and has run out.
  static std::optional<std::int64_t> next_value(Sequence const& s, bool& wraps);
  static std::uint64_t left_from(Sequence const& s);
  // pez.enter_period: the period s is in now, entered (the counter at its start again) if the
  // clock says a new one began.
  Entered enter_period(Sequence& s);
  std::expected<void, StoreError> check_create(CreateSpec const& spec) const;
  // A relation of schema pez has this name: a sequence, or one of the tables and their indexes.
  bool relation(std::string const& name) const;

  std::map<std::string, Sequence> m_sequences;
  std::map<std::tuple<std::uint64_t, std::int64_t, std::int32_t>, std::int64_t> m_origins;
  std::map<std::uint64_t, Periods> m_periods;  // by life
  std::function<Clock::time_point()> m_base;
  Clock::time_point m_base_zero{};
  Clock::duration m_offset{};
  Clock::duration m_latest{};
  std::optional<Clock::duration> m_floor;  // pez._period_floor
  std::optional<std::array<Clock::duration, 3>> m_lengths;
  std::int64_t m_generations = 0;
  std::uint64_t m_lives = 0;
  mutable std::uint64_t m_ops = 0;
};

}  // namespace pez::sim
