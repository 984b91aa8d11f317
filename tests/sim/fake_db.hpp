// The fake of the database seam: schema pez's functions (sql/), in process. It keeps each
// sequence as PostgreSQL does (last_value, is_called) and answers pez.take, pez.reserve,
// pez.create_sequence, pez.reset_sequence, pez.drop_sequence and the catalog read as they do.
// test_fake_db.py runs one script of operations through it (pez-sim --script) and through a real
// PostgreSQL and compares every answer.
//
// It also keeps what the simulation's model needs: each life of a sequence (create to drop),
// each generation (create or reset), each pass over the range (a wrap starts the next), and a
// record of every number it handed out.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/store.hpp"

namespace pez::sim {

using daemon::Block;
using daemon::SequenceInfo;
using daemon::SequenceRow;
using daemon::StoreError;

// Where one number handed out belongs.
struct Origin {
  std::uint64_t life = 0;
  std::int64_t generation = 0;
  std::uint64_t pass = 0;
};

class FakeDb {
 public:
  FakeDb();

  // pez.take(seq, n): n numbers, all or none.
  std::expected<std::vector<std::int64_t>, StoreError> take(std::string const& name, std::int64_t n,
                                                            std::vector<Origin>* origins = nullptr);
  // pez.reserve(seq, n).
  std::expected<Block, StoreError> reserve(std::string const& name, std::int64_t n, Origin* origin = nullptr);
  // pez.create_sequence(...): the generation.
  std::expected<std::int64_t, StoreError> create(CreateSpec const& spec);
  // pez.reset_sequence(name, to): the generation.
  std::expected<std::int64_t, StoreError> reset(std::string const& name, std::optional<std::int64_t> to);
  // pez.drop_sequence(name).
  std::expected<void, StoreError> drop(std::string const& name);
  // CREATE SEQUENCE pez.name ... by hand: no row in pez.sequences (generation 0).
  void create_by_hand(std::string const& name, std::int64_t increment, std::int64_t min, std::int64_t max,
                      std::int64_t start, bool cycle);
  // pez.numbers_left(seq), saturated at 2^64-1.
  std::expected<std::uint64_t, StoreError> numbers_left(std::string const& name) const;

  // The catalog read of pezd (k_catalog_sql) and pez admin list (k_list_sql).
  std::vector<SequenceInfo> catalog() const;
  std::vector<SequenceRow> describe(std::string const& name) const;

  bool exists(std::string const& name) const { return m_sequences.contains(name); }
  // Every call above counts as one operation, in the order they ran: the simulation's model
  // orders what happened in the database by these numbers.
  std::uint64_t ops() const { return m_ops; }
  SequenceInfo const* info(std::string const& name) const;
  std::uint64_t life_of(std::string const& name) const;
  // Where a generation's first pass starts (the start, or the value of a reset).
  std::int64_t origin_of(std::uint64_t life, std::int64_t generation) const;

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
  };
  // nextval(): the next number, or none when it does not cycle and has run out.
  static std::optional<std::int64_t> next_value(Sequence const& s, bool& wraps);
  static std::uint64_t left_from(Sequence const& s);
  // A relation of schema pez has this name: a sequence, or one of the tables and their indexes.
  bool relation(std::string const& name) const;

  std::map<std::string, Sequence> m_sequences;
  std::map<std::pair<std::uint64_t, std::int64_t>, std::int64_t> m_origins;
  std::int64_t m_generations = 0;
  std::uint64_t m_lives = 0;
  mutable std::uint64_t m_ops = 0;
};

}  // namespace pez::sim
