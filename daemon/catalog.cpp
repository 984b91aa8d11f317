// SPDX-License-Identifier: Apache-2.0
#include "daemon/catalog.hpp"

namespace pez::daemon {

SequenceInfo const* Catalog::find(std::string_view name) const {
  auto it = m_sequences.find(name);
  return it == m_sequences.end() ? nullptr : &it->second;
}

void Catalog::replace(std::vector<SequenceInfo> sequences, Clock::time_point now, std::uint64_t read) {
  m_sequences.clear();
  for (auto& info : sequences) {
    auto name = info.name;
    m_sequences.emplace(std::move(name), std::move(info));
  }
  m_loaded = true;
  m_refreshed_at = now;
  m_read = read;
  m_last_whole = true;
  m_last_names.clear();
}

void Catalog::update(std::vector<std::string> names, std::vector<SequenceInfo> found, std::uint64_t read) {
  for (auto const& name : names) {
    if (auto it = m_sequences.find(name); it != m_sequences.end()) m_sequences.erase(it);
  }
  for (auto& info : found) {
    auto name = info.name;
    m_sequences.insert_or_assign(std::move(name), std::move(info));
  }
  m_read = read;
  m_last_whole = false;
  m_last_names = std::move(names);
}

}  // namespace pez::daemon
