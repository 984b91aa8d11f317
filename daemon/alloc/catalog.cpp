// SPDX-License-Identifier: Apache-2.0
#include "daemon/alloc/catalog.hpp"

namespace pez::daemon {

Catalog::Catalog(Catalog const& other)
    : m_sequences(other.m_sequences),
      m_loaded(other.m_loaded),
      m_refreshed_at(other.m_refreshed_at),
      m_read(other.m_read),
      m_last_whole(other.m_last_whole),
      m_last_names(other.m_last_names) {
  index_all();
}

Catalog& Catalog::operator=(Catalog const& other) {
  if (this != &other) {
    Catalog copy(other);
    *this = std::move(copy);
  }
  return *this;
}

void Catalog::index_all() {
  m_index.clear();
  m_index.reserve(m_sequences.size());
  for (auto const& [name, info] : m_sequences) m_index.emplace(name, &info);
}

SequenceInfo const* Catalog::find(std::string_view name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : it->second;
}

void Catalog::replace(std::vector<SequenceInfo> sequences, Clock::time_point now, std::uint64_t read) {
  m_sequences.clear();
  for (auto& info : sequences) {
    auto name = info.name;
    m_sequences.emplace(std::move(name), std::move(info));
  }
  index_all();
  m_loaded = true;
  m_refreshed_at = now;
  m_read = read;
  m_last_whole = true;
  m_last_names.clear();
}

void Catalog::update(std::vector<std::string> names, std::vector<SequenceInfo> found, std::uint64_t read) {
  for (auto const& name : names) {
    if (auto it = m_sequences.find(name); it != m_sequences.end()) {
      m_index.erase(it->first);
      m_sequences.erase(it);
    }
  }
  for (auto& info : found) {
    auto name = info.name;
    auto [it, added] = m_sequences.insert_or_assign(std::move(name), std::move(info));
    m_index.insert_or_assign(it->first, &it->second);
  }
  m_read = read;
  m_last_whole = false;
  m_last_names = std::move(names);
}

}  // namespace pez::daemon
