// SPDX-License-Identifier: Apache-2.0
#include "daemon/context.hpp"

#include <boost/asio/post.hpp>
#include <vector>

#include "daemon/alloc/allocator.hpp"
#include "daemon/db/database.hpp"
#include "daemon/ops/metrics.hpp"
#include "daemon/ops/operator_pages.hpp"

namespace pez::daemon {

namespace asio = boost::asio;

std::uint64_t Sessions::add(std::weak_ptr<Session> session) {
  auto const id = m_next++;
  m_sessions.emplace(id, std::move(session));
  m_shared.open_sessions.fetch_add(1);
  return id;
}

void Sessions::remove(std::uint64_t id) {
  if (m_sessions.erase(id) == 0) return;
  if (m_shared.open_sessions.fetch_sub(1) == 1 && m_shared.draining()) {
    asio::post(m_shared.core, [&shared = m_shared] {
      if (shared.on_all_closed) shared.on_all_closed();
    });
  }
}

void Sessions::set_idle(Session& session, std::weak_ptr<Session> weak, bool idle) {
  if (idle == session.idle()) return;
  if (idle) {
    auto* list = session.m_used ? &m_idle_used : &m_idle_unused;
    if (m_idle_spare.empty()) {
      session.m_idle_at = list->insert(list->end(), std::move(weak));
    } else {
      session.m_idle_at = m_idle_spare.begin();
      *session.m_idle_at = std::move(weak);
      list->splice(list->end(), m_idle_spare, session.m_idle_at);
    }
    session.m_idle_list = list;
  } else {
    session.m_idle_at->reset();
    m_idle_spare.splice(m_idle_spare.begin(), *session.m_idle_list, session.m_idle_at);
    session.m_idle_list = nullptr;
  }
}

Sessions::Room Sessions::make_room() {
  if (m_shared.open_sessions.load(std::memory_order_relaxed) <= m_shared.max_connections) return Room::free;
  // A flood of connections that send nothing goes before clients that ask for numbers.
  for (auto* list : {&m_idle_unused, &m_idle_used}) {
    while (!list->empty()) {
      auto oldest = list->front().lock();
      if (!oldest) {
        list->pop_front();
        continue;
      }
      oldest->close();  // takes it off the list
      return Room::made;
    }
  }
  return Room::none;
}

void Sessions::drain_all() {
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [id, weak] : m_sessions) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  for (auto& session : live) session->drain();
}

void Sessions::close_all() {
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [id, weak] : m_sessions) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  for (auto& session : live) session->close();
}

void Context::allocate(std::string_view name, std::uint32_t count, AllocateHandler handler) {
  // Numbers held in memory are taken here, on any thread, the core's too: one look-up of the
  // name, where the allocator's way checks the catalog first. Not while an earlier take of the
  // name from this thread waits: it may not be among the reserve's waiters yet (sent to the
  // core, or waiting for the catalog), and must go first.
  thread_local std::vector<std::int64_t> numbers;
  bool refill = false;
  Printing printing;
  bool const behind = !m_unanswered.empty() && m_unanswered.contains(name);
  if (count > 0 && !behind && shared.allocator.try_take(name, count, numbers, printing, refill)) {
    metrics.numbers(name, count);
    if (refill && core) {
      shared.allocator.refill(std::string(name));
    } else if (refill) {
      asio::post(shared.core, [&allocator = shared.allocator, name = std::string(name)] { allocator.refill(name); });
    }
    handler(Numbers{NumbersView(numbers), std::move(printing)});
    return;
  }
  std::string key;  // a take is counted until it is answered; a look-up (count 0) is not
  if (count > 0) {
    key = std::string(name);
    ++m_unanswered[key];
  }
  if (core) {
    shared.allocator.allocate(
        name, count, [ctx = this, key = std::move(key), handler = std::move(handler)](AllocateResult result) mutable {
          ctx->answered(key);
          handler(std::move(result));
        });
    return;
  }
  asio::post(shared.core, [&shared = shared, ctx = this, name = std::string(name), count, key = std::move(key),
                           handler = std::move(handler)]() mutable {
    shared.allocator.allocate(
        name, count, [&shared, ctx, key = std::move(key), handler = std::move(handler)](AllocateResult result) mutable {
          if (!result) {
            asio::post(ctx->executor, [ctx, key = std::move(key), h = std::move(handler),
                                       error = shared.classified(result.error())]() mutable {
              ctx->answered(key);
              h(std::unexpected(error));
            });
            return;
          }
          asio::post(ctx->executor, [ctx, key = std::move(key), h = std::move(handler),
                                     copy = std::vector<std::int64_t>(result->values.begin(), result->values.end()),
                                     printing = std::move(result->printing)]() mutable {
            ctx->answered(key);
            h(Numbers{NumbersView(copy), std::move(printing)});
          });
        });
  });
}

void Context::answered(std::string const& key) {
  if (key.empty()) return;  // a look-up
  auto it = m_unanswered.find(key);
  if (it != m_unanswered.end() && --it->second == 0) m_unanswered.erase(it);
}

void Context::admin(AdminCommand command, AdminHandler done) {
  if (core) {
    shared.admin.run(std::move(command), [&shared = shared, done = std::move(done)](AdminResult result) mutable {
      if (!result) result = std::unexpected(shared.classified(result.error()));
      done(std::move(result));
    });
    return;
  }
  asio::post(
      shared.core, [&shared = shared, command = std::move(command), back = executor, done = std::move(done)]() mutable {
        shared.admin.run(std::move(command), [&shared, back, done = std::move(done)](AdminResult result) mutable {
          if (!result) result = std::unexpected(shared.classified(result.error()));
          asio::post(back, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
        });
      });
}

void Context::ops_page(OpsPage page, std::move_only_function<void(Reply)> done) {
  if (core) {
    done(pages.page(page));
    return;
  }
  asio::post(shared.core, [&pages = pages, page, back = executor, done = std::move(done)]() mutable {
    asio::post(back, [done = std::move(done), reply = pages.page(page)]() mutable { done(std::move(reply)); });
  });
}

std::string Context::status_json() const { return pages.status_json(); }

std::string misconfigured_text(std::string const& why) {
  return "pezd's database settings are wrong: " + why +
         "; retrying will not help until an operator corrects them (pezd's log has the details)";
}

Error Shared::classified(Error error) const {
  if (error.code != Errc::unavailable) return error;
  if (auto why = db.configuration_error()) return Error{Errc::misconfigured, misconfigured_text(*why)};
  return error;
}

}  // namespace pez::daemon
