#include "daemon/context.hpp"

#include <vector>

#include "common/format.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "daemon/allocator.hpp"
#include "daemon/config.hpp"
#include "daemon/database.hpp"
#include "daemon/metrics.hpp"

namespace pez::daemon {

std::uint64_t Sessions::add(std::weak_ptr<Session> session) {
  auto const id = m_next++;
  m_sessions.emplace(id, std::move(session));
  return id;
}

void Sessions::remove(std::uint64_t id) {
  if (m_sessions.erase(id) > 0 && m_sessions.empty() && on_empty) on_empty();
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

bool Context::ready() const { return !draining && db.up(); }

std::string Context::not_ready_reason() const {
  if (draining) return "pezd is shutting down";
  if (db.up()) return {};
  return "the database is unavailable: " + db.last_error();
}

Reply Context::ops_page(OpsPage page) const {
  switch (page) {
    case OpsPage::healthz:
      return Reply{200, "{\"status\": \"alive\"}\n"};
    case OpsPage::readyz: {
      if (ready()) return Reply{200, "{\"status\": \"ready\"}\n"};
      Reply reply{503, "{\"status\": \"not ready\", \"error\": " + json_string(not_ready_reason()) + "}\n"};
      reply.retry_after = true;
      return reply;
    }
    case OpsPage::metrics: {
      std::string out;
      metrics.render(out);
      append_metric_header(out, "pez_db_up", "gauge", "1 when a database connection is set up and usable.");
      append_metric(out, "pez_db_up", "", db.up() ? 1 : 0);
      append_metric_header(out, "pez_db_connections", "gauge", "Database connections set up and usable.");
      append_metric(out, "pez_db_connections", "", db.connections_up());
      append_metric_header(out, "pez_reserved_numbers", "gauge",
                           "Numbers reserved in memory and not handed out yet, by sequence (0 in strict mode).");
      for (auto const& [name, info] : db.catalog().all()) {
        append_metric(out, "pez_reserved_numbers", "sequence=\"" + name + "\"",
                      static_cast<double>(allocator.reserved(name)));
      }
      append_metric_header(out, "pez_pending_requests", "gauge", "Requests waiting for numbers.");
      append_metric(out, "pez_pending_requests", "", static_cast<double>(allocator.pending()));
      append_metric_header(out, "pez_open_connections", "gauge", "Client connections open now.");
      append_metric(out, "pez_open_connections", "", static_cast<double>(sessions.size()));
      append_metric_header(out, "pez_uptime_seconds", "gauge", "Seconds since pezd started.");
      append_metric(out, "pez_uptime_seconds", "",
                    std::chrono::duration<double>(Clock::now() - started).count());
      append_metric_header(out, "pez_build_info", "gauge", "The running version of pezd.");
      append_metric(out, "pez_build_info", std::string("version=\"") + k_version + "\"", 1);
      return Reply{200, std::move(out), "text/plain; version=0.0.4; charset=utf-8"};
    }
  }
  return Reply{500, error_body("unknown page")};
}

std::string Context::status_json() const {
  auto const uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
  std::string out = "{\"version\": " + json_string(k_version);
  out += ", \"uptime_seconds\": " + std::to_string(uptime);
  out += ", \"mode\": ";
  out += allocator.mode() == Mode::block ? "\"block\"" : "\"strict\"";
  out += ", \"ready\": ";
  out += ready() ? "true" : "false";
  out += ", \"database\": {\"up\": ";
  out += db.up() ? "true" : "false";
  out += ", \"connections\": " + std::to_string(db.connections_up());
  out += ", \"server\": " + json_string(db.server());
  out += ", \"error\": " + json_string(db.last_error());
  out += "}, \"sequences\": " + std::to_string(db.catalog().all().size());
  out += ", \"requests\": " + std::to_string(metrics.requests_total());
  out += ", \"numbers\": " + std::to_string(metrics.numbers_total());
  out += ", \"pending\": " + std::to_string(allocator.pending());
  out += ", \"connections\": " + std::to_string(sessions.size());
  out += "}";
  return out;
}

}  // namespace pez::daemon
