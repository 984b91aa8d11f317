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
}

}  // namespace pez::daemon
