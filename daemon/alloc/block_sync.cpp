// SPDX-License-Identifier: Apache-2.0
// BlockSource: following the catalog (resets, drops, reads) and the database going down.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "daemon/alloc/block_source_detail.hpp"
#include "daemon/alloc/sources.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

using block_detail::numbers_in;

void BlockSource::invalidate_locked(Reserve& r, std::int64_t generation) {
  if (generation <= r.generation) return;
  r.generation = generation;
  std::erase_if(r.ranges, [generation](Range const& range) { return range.generation < generation; });
  std::uint64_t available = 0;
  r.new_passes = 0;
  for (auto& range : r.ranges) {
    available += numbers_in(range.next, range.last, range.step);
    if (&range == &r.ranges.front()) range.new_pass = false;
    if (range.new_pass) ++r.new_passes;
  }
  if (available != r.available)
    spdlog::info("dropped {} reserved numbers of {}: it was reset", r.available - available, r.name);
  r.available = available;
  r.run_out = false;
}

void BlockSource::invalidate(std::string const& name, std::int64_t generation) {
  Deliveries out;
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end()) return;
    invalidate_locked(it->second, generation);
    resume_locked(it->second, out);
  }
  deliver(out);
}

std::vector<Request> BlockSource::dropped(std::string const& name) {
  Deliveries out;
  std::vector<Request> waiting;
  {
    std::lock_guard lock(m_lock);
    auto it = m_reserves.find(name);
    if (it == m_reserves.end()) return waiting;
    for (auto& request : it->second.waiters) waiting.push_back(std::move(request));
    it->second.waiters.clear();
    erase_locked(it, out);
  }
  deliver(out);
  return waiting;
}

void BlockSource::announced(std::string const& name, std::uint64_t read) {
  std::lock_guard lock(m_lock);
  auto it = m_reserves.find(name);
  if (it != m_reserves.end()) {
    it->second.fence = std::max(it->second.fence, read);
  } else {
    // A reserve made before that read is done waits for it too.
    auto& fence = m_fences[name];
    fence = std::max(fence, read);
  }
}

std::vector<Request> BlockSource::sync(Catalog const& catalog,
                                       std::function<bool(SequenceInfo const&)> const& in_block_mode) {
  Deliveries out;
  std::vector<Request> moved;
  {
    std::lock_guard lock(m_lock);
    m_read_done = std::max(m_read_done, catalog.read_number());
    std::erase_if(m_fences, [this](auto const& fence) { return fence.second <= m_read_done; });
    auto sync_one = [&](Reserves::iterator it) {
      if (auto const* info = catalog.find(it->first); info == nullptr) {
        erase_locked(it, out);
      } else if (!in_block_mode(*info)) {
        // Now served in strict mode (created again with another mode): what is reserved goes,
        // so that no number taken before a request came is handed to it.
        for (auto& request : it->second.waiters) moved.push_back(std::move(request));
        it->second.waiters.clear();
        erase_locked(it, out);
      } else {
        it->second.format = info->format;
        it->second.periodic = info->periodic;
        invalidate_locked(it->second, info->generation);
        resume_locked(it->second, out);
      }
    };
    if (catalog.last_read_whole()) {
      for (auto it = m_reserves.begin(); it != m_reserves.end();) sync_one(it++);
    } else {
      // A read of some names: only their reserves can have changed (with 10,000 sequences, a
      // change of one costs the same as with one).
      for (auto const& name : catalog.last_read_names()) {
        if (auto it = m_reserves.find(name); it != m_reserves.end()) sync_one(it);
      }
    }
  }
  deliver(out);
  return moved;
}

}  // namespace pez::daemon
