#include "daemon/allocator.hpp"

#include <spdlog/spdlog.h>

#include "common/sequence.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sources.hpp"

namespace pez::daemon {
namespace {

using namespace std::chrono_literals;

// A name missing from a catalog read this recently is answered 404 without asking again.
constexpr auto k_catalog_fresh = 1s;
constexpr auto k_sweep_every = 50ms;

Error not_found(std::string_view name) {
  return Error{Errc::not_found, "no sequence named " + quote_untrusted(name)};
}

}  // namespace

Error unavailable_error(std::string const& why) {
  return Error{Errc::unavailable, "the database is unavailable: " + why + "; try again later"};
}

Allocator::Allocator(boost::asio::io_context& io, Database& db, Metrics& metrics, std::chrono::milliseconds timeout,
                     Mode mode, BlockOptions block, double wrap_warning)
    : m_db(db), m_timeout(timeout), m_mode(mode), m_sweep(io), m_wrap_warning(wrap_warning) {
  SourceContext ctx{db, metrics, timeout, [this] { arm_sweep(); },
                    [this](std::string const& name, std::int64_t value, bool exhausted) {
                      observed(name, value, exhausted);
                    }};
  m_strict = std::make_unique<StrictSource>(ctx);
  m_block = std::make_unique<BlockSource>(ctx, block);
  m_db.on_available = [this] {
    m_strict->pump();
    m_block->pump();
  };
  m_db.on_catalog = [this] { catalog_changed(); };
  m_db.on_change = [this](std::string const& name, std::int64_t generation) { sequence_changed(name, generation); };
  m_db.on_down = [this](DbError const& error) { database_down(unavailable_error(error.message)); };
}

Allocator::~Allocator() {
  m_db.on_available = nullptr;
  m_db.on_catalog = nullptr;
  m_db.on_change = nullptr;
  m_db.on_down = nullptr;
}

Source& Allocator::source_for(std::string_view name) {
  bool block = m_mode == Mode::block;
  if (auto const* info = m_db.catalog().find(name); info != nullptr && info->block) block = *info->block;
  return block ? static_cast<Source&>(*m_block) : *m_strict;
}

void Allocator::observed(std::string const& name, std::int64_t value, bool exhausted) {
  auto const* info = m_db.catalog().find(name);
  if (info == nullptr) return;
  SequenceShape const shape{info->increment, info->min, info->max, info->start, info->cycle};
  Watch& w = m_watches[name];
  if (w.generation != info->generation) w = Watch{info->generation};
  if (exhausted) {
    if (!w.ran_out) {
      spdlog::warn("sequence {} has run out: it handed out its last number ({}) and does not cycle; "
                   "pez admin reset {} makes it hand out numbers again",
                   name, info->increment > 0 ? info->max : info->min, name);
    }
    w.ran_out = true;
    w.used = 1;
    return;
  }
  bool const wrapped = w.has_last && (info->increment > 0 ? value < w.last : value > w.last);
  if (wrapped) {
    spdlog::warn("sequence {} wrapped: it starts over at {}, and numbers it handed out before come again",
                 name, info->increment > 0 ? info->min : info->max);
    w.warned = false;
  }
  w.last = value;
  w.has_last = true;
  w.used = used_after(shape, value);
  if (w.used >= m_wrap_warning && !w.warned && m_wrap_warning < 1) {
    w.warned = true;
    spdlog::warn("sequence {} has used {:.1f}% of its range (setting wrap_warning is {}): {} after {}",
                 name, w.used * 100, m_wrap_warning, info->cycle ? "it wraps" : "it runs out",
                 info->increment > 0 ? info->max : info->min);
  }
}

void Allocator::sequence_changed(std::string const& name, std::int64_t generation) {
  m_block->invalidate(name, generation);
  m_db.refresh_catalog();
}

std::size_t Allocator::pending() const {
  return m_waiting_for_catalog.size() + m_strict->pending() + m_block->pending();
}

std::uint64_t Allocator::reserved(std::string_view name) const { return m_block->reserved(name); }

bool Allocator::serving() const { return m_db.up(); }

bool Allocator::try_take(std::string_view name, std::uint32_t count, std::vector<std::int64_t>& out, bool& refill) {
  // Only sequences served in block mode have numbers in memory.
  return m_block->try_take(name, count, out, refill);
}

void Allocator::refill(std::string const& name) { m_block->refill(name); }

bool Allocator::warm_up(std::string const& name) {
  if (!m_db.catalog().loaded()) return false;
  if (m_db.catalog().find(name) == nullptr) return true;
  if (&source_for(name) != m_block.get()) return true;
  return m_block->warm_up(name);
}

void Allocator::allocate(std::string_view name, std::uint32_t count, AllocateHandler handler) {
  Request request{std::string(name), count, Clock::now() + m_timeout, std::move(handler)};
  if (m_db.down() && !source_for(name).can_answer_now(name, count)) {
    request.answer(std::unexpected(unavailable_error(m_db.last_error())));
    return;
  }
  admit(std::move(request));
}

void Allocator::admit(Request request) {
  auto const& catalog = m_db.catalog();
  if (!catalog.loaded()) {
    m_waiting_for_catalog.push_back(std::move(request));
    arm_sweep();
    return;
  }
  if (catalog.find(request.name) == nullptr) {
    if ((Clock::now() - catalog.refreshed_at() < k_catalog_fresh && !m_db.catalog_stale()) || m_db.down()) {
      request.answer(std::unexpected(not_found(request.name)));
      return;
    }
    m_waiting_for_catalog.push_back(std::move(request));
    m_db.refresh_catalog();
    arm_sweep();
    return;
  }
  if (request.count == 0) {
    request.answer(NumbersView{});
    return;
  }
  source_for(request.name).take(std::move(request));
}

void Allocator::catalog_changed() {
  m_block->sync(m_db.catalog());
  auto waiting = std::move(m_waiting_for_catalog);
  m_waiting_for_catalog.clear();
  for (auto& request : waiting) {
    if (m_db.catalog().find(request.name) == nullptr) {
      request.answer(std::unexpected(not_found(request.name)));
    } else {
      admit(std::move(request));
    }
  }
}

void Allocator::database_down(Error const& error) {
  auto waiting = std::move(m_waiting_for_catalog);
  m_waiting_for_catalog.clear();
  m_strict->database_down(error);
  m_block->database_down(error);
  for (auto& request : waiting) request.answer(std::unexpected(error));
}

void Allocator::arm_sweep() {
  if (m_sweep_armed) return;
  m_sweep_armed = true;
  m_sweep.expires_after(k_sweep_every);
  m_sweep.async_wait([this](boost::system::error_code ec) {
    m_sweep_armed = false;
    if (ec) return;
    sweep();
  });
}

void Allocator::sweep() {
  auto const now = Clock::now();
  auto const late = unavailable_error("no answer within " + settings::format_duration(m_timeout));
  // Late requests are taken out first and answered last: an answer may lead its session to
  // send the next request at once.
  std::vector<Request> expired;
  for (auto it = m_waiting_for_catalog.begin(); it != m_waiting_for_catalog.end();) {
    if (it->deadline <= now) {
      expired.push_back(std::move(*it));
      it = m_waiting_for_catalog.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& request : expired) request.answer(std::unexpected(late));
  m_strict->expire(now, late);
  m_block->expire(now, late);
  if (pending() > 0) arm_sweep();
}

}  // namespace pez::daemon
