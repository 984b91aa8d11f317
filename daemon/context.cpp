// SPDX-License-Identifier: Apache-2.0
#include "daemon/context.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <vector>

#include "common/format.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "daemon/allocator.hpp"
#include "daemon/config.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"

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
  if (m_shared.open_sessions.fetch_sub(1) == 1 && m_shared.draining.load()) {
    asio::post(m_shared.core, [&shared = m_shared] {
      if (shared.on_all_closed) shared.on_all_closed();
    });
  }
}

void Sessions::set_idle(Session& session, std::weak_ptr<Session> weak, bool idle) {
  if (idle == session.idle()) return;
  if (idle) {
    session.m_idle_list = session.m_used ? &m_idle_used : &m_idle_unused;
    session.m_idle_at = session.m_idle_list->insert(session.m_idle_list->end(), std::move(weak));
  } else {
    session.m_idle_list->erase(session.m_idle_at);
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
  if (core) {
    shared.allocator.allocate(name, count, std::move(handler));
    return;
  }
  thread_local std::vector<std::int64_t> numbers;
  bool refill = false;
  Printing printing;
  if (count > 0 && shared.allocator.try_take(name, count, numbers, printing, refill)) {
    if (refill) {
      asio::post(shared.core, [&allocator = shared.allocator, name = std::string(name)] { allocator.refill(name); });
    }
    metrics.numbers(name, count);
    handler(Numbers{NumbersView(numbers), std::move(printing)});
    return;
  }
  asio::post(shared.core, [&shared = shared, name = std::string(name), count, back = executor,
                           handler = std::move(handler)]() mutable {
    shared.allocator.allocate(
        name, count, [&shared, back, handler = std::move(handler)](AllocateResult result) mutable {
          if (!result) {
            asio::post(back, [h = std::move(handler), error = shared.classified(result.error())]() mutable {
              h(std::unexpected(error));
            });
            return;
          }
          asio::post(back, [h = std::move(handler),
                            copy = std::vector<std::int64_t>(result->values.begin(), result->values.end()),
                            printing = std::move(result->printing)]() mutable {
            h(Numbers{NumbersView(copy), std::move(printing)});
          });
        });
  });
}

void Context::admin(AdminCommand command, AdminHandler done) {
  if (core) {
    shared.admin->run(std::move(command), [&shared = shared, done = std::move(done)](AdminResult result) mutable {
      if (!result) result = std::unexpected(shared.classified(result.error()));
      done(std::move(result));
    });
    return;
  }
  asio::post(
      shared.core, [&shared = shared, command = std::move(command), back = executor, done = std::move(done)]() mutable {
        shared.admin->run(std::move(command), [&shared, back, done = std::move(done)](AdminResult result) mutable {
          if (!result) result = std::unexpected(shared.classified(result.error()));
          asio::post(back, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
        });
      });
}

void Context::ops_page(OpsPage page, std::move_only_function<void(Reply)> done) {
  if (core) {
    done(shared.ops_page(page));
    return;
  }
  asio::post(shared.core, [&shared = shared, page, back = executor, done = std::move(done)]() mutable {
    asio::post(back, [done = std::move(done), reply = shared.ops_page(page)]() mutable { done(std::move(reply)); });
  });
}

bool Shared::ready() const { return !draining.load() && allocator.serving(); }

namespace {

std::string misconfigured_text(std::string const& why) {
  return "pezd's database settings are wrong: " + why +
         "; retrying will not help until an operator corrects them (pezd's log has the details)";
}

}  // namespace

Error Shared::not_ready_error() const {
  if (draining.load()) return Error{Errc::unavailable, "pezd is shutting down"};
  if (!db.up()) {
    if (auto why = db.configuration_error()) return Error{Errc::misconfigured, misconfigured_text(*why)};
    return Error{Errc::unavailable, "the database is unavailable: " + db.last_error()};
  }
  if (auto refused = db.safety_problem()) {
    return Error{Errc::unavailable, "pezd refuses to hand out numbers: " + *refused};
  }
  if (auto problem = allocator.notices_problem(); problem && allocator.mode() == Mode::block) {
    return Error{Errc::unavailable, "block mode cannot hand out numbers: " + *problem};
  }
  return Error{Errc::unavailable, {}};
}

std::string Shared::not_ready_public_reason() const {
  if (draining.load() || db.up()) return not_ready_reason();
  if (auto why = db.configuration_error()) return misconfigured_text(*why);
  // libpq's text names socket paths, hosts and roles; pezd's own (the schema to install) helps.
  if (db.cannot_connect()) return "the database is unavailable: pezd cannot connect to it";
  return not_ready_reason();
}

Error Shared::classified(Error error) const {
  if (error.code != Errc::unavailable) return error;
  if (auto why = db.configuration_error()) return Error{Errc::misconfigured, misconfigured_text(*why)};
  return error;
}

namespace {

void add_up(std::vector<Metrics const*> const& all, Metrics& total) {
  for (auto const* m : all) m->add_to(total);
}

}  // namespace

Reply Shared::ops_page(OpsPage page) const {
  switch (page) {
    case OpsPage::healthz:
      return Reply{200, "{\"status\": \"alive\"}\n"};
    case OpsPage::status:
      return Reply{200, status_json()};
    case OpsPage::readyz: {
      if (ready()) return Reply{200, "{\"status\": \"ready\"}\n"};
      Reply reply{503, "{\"status\": \"not ready\", \"error\": " + json_string(not_ready_public_reason()) + "}\n"};
      reply.retry_after = true;
      reply.log_detail = not_ready_reason();
      return reply;
    }
    case OpsPage::metrics: {
      std::string out;
      Metrics total;
      add_up(metrics, total);
      total.render(out);
      append_metric_header(out, "pez_db_up", "gauge", "1 when a database connection is set up and usable.");
      append_metric(out, "pez_db_up", "", db.up() ? 1 : 0);
      append_metric_header(out, "pez_db_connections", "gauge", "Database connections set up and usable.");
      append_metric(out, "pez_db_connections", "", db.connections_up());
      append_metric_header(out, "pez_database_failover_safe", "gauge",
                           "1 when the latest check of the primary found that a commit taking numbers waits for a "
                           "synchronous standby, so a failover to it loses none; 0 otherwise (asynchronous "
                           "standbys only, no standby, or not known).");
      append_metric(out, "pez_database_failover_safe", "", db.failover() && db.failover()->safe() ? 1 : 0);
      append_metric_header(out, "pez_database_standbys", "gauge",
                           "Standbys streaming from the primary, as the latest check found (0 before the first).");
      append_metric(out, "pez_database_standbys", "", db.failover() ? static_cast<double>(db.failover()->standbys) : 0);
      append_metric_header(out, "pez_reserved_numbers", "gauge",
                           "Numbers reserved in memory and not handed out yet, by sequence (0 in strict mode).");
      for (auto const& [name, info] : db.catalog().all()) {
        append_metric(out, "pez_reserved_numbers", "sequence=\"" + name + "\"",
                      static_cast<double>(allocator.reserved(name)));
      }
      append_metric_header(out, "pez_sequence_used_ratio", "gauge",
                           "Fraction of each sequence's range used, as of the last numbers this daemon took "
                           "(1 when a sequence without cycle has run out).");
      for (auto const& [name, watch] : allocator.watches()) {
        if (db.catalog().find(name) == nullptr) continue;
        append_metric(out, "pez_sequence_used_ratio", "sequence=\"" + name + "\"", watch.used);
      }
      append_usage_metrics(out, db.usage());
      append_metric_header(out, "pez_ready", "gauge",
                           "1 when pezd can hand out numbers now (GET /readyz answers 200), else 0.");
      append_metric(out, "pez_ready", "", ready() ? 1 : 0);
      append_metric_header(out, "pez_pending_requests", "gauge", "Requests waiting for numbers.");
      append_metric(out, "pez_pending_requests", "", static_cast<double>(allocator.pending()));
      append_metric_header(out, "pez_open_connections", "gauge", "Client connections open now.");
      append_metric(out, "pez_open_connections", "", static_cast<double>(open_sessions.load()));
      append_metric_header(out, "pez_uptime_seconds", "gauge", "Seconds since pezd started.");
      append_metric(out, "pez_uptime_seconds", "", std::chrono::duration<double>(Clock::now() - started).count());
      append_metric_header(out, "pez_build_info", "gauge", "The running version of pezd.");
      append_metric(out, "pez_build_info", std::string("version=\"") + k_version + "\"", 1);
      return Reply{200, std::move(out), "text/plain; version=0.0.4; charset=utf-8"};
    }
  }
  return Reply{500, error_body("unknown page")};
}

std::string Shared::status_json() const {
  auto const uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
  Metrics total;
  add_up(metrics, total);
  std::string out = "{\"version\": " + json_string(k_version);
  out += ", \"uptime_seconds\": " + std::to_string(uptime);
  out += ", \"mode\": ";
  out += allocator.mode() == Mode::block ? "\"block\"" : "\"strict\"";
  out += ", \"threads\": " + std::to_string(metrics.size());
  out += ", \"pid\": " + std::to_string(::getpid());
  out += ", \"http\": " + (http_address.empty() ? std::string("null") : json_string(http_address));
  out += ", \"ready\": ";
  bool const is_ready = ready();
  out += is_ready ? "true" : "false";
  // Why not, as the error a request would get: pez status exits as pez forward would.
  out += ", \"not_ready\": ";
  if (is_ready) {
    out += "null";
  } else {
    auto const why = not_ready_error();
    out += "{\"code\": " + json_string(errc_token(why.code)) +
           ", \"message\": " + json_string(why.message.empty() ? "pezd cannot hand out numbers now" : why.message) +
           "}";
  }
  out += ", \"database\": {\"up\": ";
  out += db.up() ? "true" : "false";
  out += ", \"connections\": " + std::to_string(db.connections_up());
  out += ", \"server\": " + json_string(db.server());
  out += ", \"conninfo\": " + json_string(database_text(config));
  out += ", \"error\": " + json_string(db.last_error());
  auto const notices = allocator.notices_problem();
  out += ", \"notices\": " + (notices ? json_string(*notices) : std::string("null"));
  auto const& failover = db.failover();
  out += ", \"failover_safe\": ";
  out += failover ? (failover->safe() ? "true" : "false") : "null";
  out += ", \"failover\": " + (failover ? json_string(failover->text()) : std::string("null"));
  auto const refused = db.safety_problem();
  out += ", \"refused\": " + (refused ? json_string(*refused) : std::string("null"));
  out += "}, \"sequences\": " + std::to_string(db.catalog().all().size());
  out += ", \"requests\": " + std::to_string(total.requests_total());
  out += ", \"numbers\": " + std::to_string(total.numbers_total());
  out += ", \"pending\": " + std::to_string(allocator.pending());
  out += ", \"connections\": " + std::to_string(open_sessions.load());
  out += "}";
  return out;
}

}  // namespace pez::daemon
