// SPDX-License-Identifier: Apache-2.0
// What pezd knows of the sequences in the pez schema, as read from pg_sequences.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/names.hpp"
#include "common/number_template.hpp"

namespace pez::daemon {

struct SequenceInfo {
  std::string name;
  std::int64_t increment = 1;
  std::int64_t min = 1;
  std::int64_t max = 0;
  std::int64_t start = 1;
  bool cycle = false;
  std::optional<bool> block;  // the sequence's own allocation mode (true: block), if it sets one
  // Changes when the sequence is created or reset (sql/003_admin.sql); 0 for a sequence made
  // outside pez admin (no row in pez.sequences) until a reset through pez gives it one.
  std::int64_t generation = 0;
  // A formatted sequence's template (sql/007_formats.sql), with its period and check algorithm;
  // null for bare numbers. A template the catalog holds but pezd cannot use (written by hand in
  // pez.sequences) leaves format null and says why in format_error: its numbers are refused.
  std::shared_ptr<number_template::NumberTemplate const> format;
  std::string format_error;
  std::string time_zone;  // a periodic sequence's (an IANA name)
  bool periodic = false;  // it starts again each period (pez.sequences.period is set)
};

class Catalog {
 public:
  using Clock = std::chrono::steady_clock;

  Catalog() = default;
  Catalog(Catalog const& other);
  Catalog& operator=(Catalog const& other);
  Catalog(Catalog&&) noexcept = default;  // a map's nodes move with it: the index stays right
  Catalog& operator=(Catalog&&) noexcept = default;
  ~Catalog() = default;

  SequenceInfo const* find(std::string_view name) const;
  // A read of every sequence. read: the number of the read that found sequences (reads are
  // numbered from 1 as they start, whole or not).
  void replace(std::vector<SequenceInfo> sequences, Clock::time_point now, std::uint64_t read);
  // A read of the named sequences only (those announced as changed, or asked for and not known):
  // found holds those of them that exist.
  void update(std::vector<std::string> names, std::vector<SequenceInfo> found, std::uint64_t read);
  bool loaded() const { return m_loaded; }
  // When the latest whole read ended.
  Clock::time_point refreshed_at() const { return m_refreshed_at; }
  std::uint64_t read_number() const { return m_read; }
  // What the latest read covered: every sequence, or the names it was asked for.
  bool last_read_whole() const { return m_last_whole; }
  std::vector<std::string> const& last_read_names() const { return m_last_names; }
  std::map<std::string, SequenceInfo, std::less<>> const& all() const { return m_sequences; }

 private:
  void index_all();

  std::map<std::string, SequenceInfo, std::less<>> m_sequences;
  // The same entries found by one hash (find runs for every request): the map keeps them in
  // name order for the pages that list them.
  NameMap<SequenceInfo const*> m_index;
  bool m_loaded = false;
  Clock::time_point m_refreshed_at{};
  std::uint64_t m_read = 0;
  bool m_last_whole = true;
  std::vector<std::string> m_last_names;
};

}  // namespace pez::daemon
