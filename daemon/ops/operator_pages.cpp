// SPDX-License-Identifier: Apache-2.0
#include "daemon/ops/operator_pages.hpp"

#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/format.hpp"
#include "common/json_line.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/config/config.hpp"
#include "daemon/context.hpp"
#include "daemon/db/database.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

namespace {

using json = nlohmann::ordered_json;

void add_up(std::vector<Metrics const*> const& all, Metrics& total) {
  for (auto const* m : all) m->add_to(total);
}

}  // namespace

bool OperatorPages::ready() const { return !m_shared.draining() && m_shared.allocator.serving(); }

Error OperatorPages::not_ready_error() const {
  auto const& db = m_shared.db;
  if (m_shared.draining()) return Error{Errc::unavailable, "pezd is shutting down"};
  if (!db.up()) {
    if (auto why = db.configuration_error()) return Error{Errc::misconfigured, misconfigured_text(*why)};
    return Error{Errc::unavailable, "the database is unavailable: " + db.last_error()};
  }
  if (auto refused = db.safety_problem()) {
    return Error{Errc::unavailable, "pezd refuses to hand out numbers: " + *refused};
  }
  auto const& allocator = m_shared.allocator;
  if (auto problem = allocator.notices_problem(); problem && allocator.mode() == Mode::block) {
    return Error{Errc::unavailable, "block mode cannot hand out numbers: " + *problem};
  }
  return Error{Errc::unavailable, {}};
}

std::string OperatorPages::not_ready_public_reason() const {
  auto const& db = m_shared.db;
  if (m_shared.draining() || db.up()) return not_ready_error().message;
  if (auto why = db.configuration_error()) return misconfigured_text(*why);
  // libpq's text names socket paths, hosts and roles; pezd's own (the schema to install) helps.
  if (db.cannot_connect()) return "the database is unavailable: pezd cannot connect to it";
  return not_ready_error().message;
}

Reply OperatorPages::page(OpsPage page) const {
  switch (page) {
    case OpsPage::healthz:
      return Reply{200, json_line(json{{"status", "alive"}}) + "\n"};
    case OpsPage::readyz:
      return readyz();
    case OpsPage::metrics:
      return metrics_page();
    case OpsPage::status:
      return Reply{200, status_json()};
  }
  return error_reply({Errc::internal, "unknown page"});
}

Reply OperatorPages::readyz() const {
  if (ready()) return Reply{200, json_line(json{{"status", "ready"}}) + "\n"};
  Reply reply{503, json_line(json{{"status", "not ready"}, {"error", not_ready_public_reason()}}) + "\n"};
  reply.retry_after = true;
  reply.log_detail = not_ready_error().message;
  reply.quiet = true;
  return reply;
}

Reply OperatorPages::metrics_page() const {
  auto const& db = m_shared.db;
  auto const& allocator = m_shared.allocator;
  auto const& failover = db.failover();
  std::string out;
  Metrics total;
  add_up(m_metrics, total);
  total.render(out);
  append_metric_header(out, "pez_db_up", "gauge", "1 when a database connection is set up and usable.");
  append_metric(out, "pez_db_up", "", db.up() ? 1 : 0);
  append_metric_header(out, "pez_db_connections", "gauge", "Database connections set up and usable.");
  append_metric(out, "pez_db_connections", "", db.connections_up());
  append_metric_header(out, "pez_database_failover_safe", "gauge",
                       "1 when the latest check of the primary found that a commit taking numbers waits for a "
                       "synchronous standby, so a failover to it loses none; 0 otherwise (asynchronous "
                       "standbys only, no standby, or not known).");
  append_metric(out, "pez_database_failover_safe", "", failover && failover->safe() ? 1 : 0);
  append_metric_header(out, "pez_database_standbys", "gauge",
                       "Standbys streaming from the primary, as the latest check found (0 before the first).");
  append_metric(out, "pez_database_standbys", "", failover ? static_cast<double>(failover->standbys) : 0);
  append_metric_header(out, "pez_database_commits_stalled", "gauge",
                       "1 when the latest check of the primary found that commits wait for more synchronous "
                       "standbys than stream, so that every commit taking numbers waits until enough do; 0 "
                       "otherwise.");
  append_metric(out, "pez_database_commits_stalled", "", failover && failover->stalled() ? 1 : 0);
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
  append_metric(out, "pez_open_connections", "", static_cast<double>(m_shared.open_sessions.load()));
  append_metric_header(out, "pez_uptime_seconds", "gauge", "Seconds since pezd started.");
  append_metric(out, "pez_uptime_seconds", "", std::chrono::duration<double>(Clock::now() - m_started).count());
  append_metric_header(out, "pez_build_info", "gauge", "The running version of pezd.");
  append_metric(out, "pez_build_info", std::string("version=\"") + k_version + "\"", 1);
  return Reply{200, std::move(out), "text/plain; version=0.0.4; charset=utf-8"};
}

json OperatorPages::database_json() const {
  auto const& db = m_shared.db;
  auto const& failover = db.failover();
  json out;
  out["up"] = db.up();
  out["connections"] = db.connections_up();
  out["server"] = db.server();
  out["conninfo"] = database_text(m_shared.config);
  out["error"] = db.last_error();
  out["notices"] = text_or_null(m_shared.allocator.notices_problem());
  out["failover_safe"] = failover ? json(failover->safe()) : json(nullptr);
  out["failover"] = failover ? json(failover->text()) : json(nullptr);
  out["refused"] = text_or_null(db.safety_problem());
  return out;
}

std::string OperatorPages::status_json() const {
  auto const& allocator = m_shared.allocator;
  auto const& http_address = m_shared.lifecycle.http_address();
  Metrics total;
  add_up(m_metrics, total);
  bool const is_ready = ready();
  json out;
  out["version"] = k_version;
  out["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - m_started).count();
  out["mode"] = allocator.mode() == Mode::block ? "block" : "strict";
  out["threads"] = m_metrics.size();
  out["pid"] = ::getpid();
  out["http"] = http_address.empty() ? json(nullptr) : json(http_address);
  out["ready"] = is_ready;
  // Why not, as the error a request would get: pez status exits as pez forward would.
  out["not_ready"] = nullptr;
  if (!is_ready) {
    auto const why = not_ready_error();
    out["not_ready"] = json{{"code", std::string(errc_token(why.code))},
                            {"message", why.message.empty() ? "pezd cannot hand out numbers now" : why.message}};
  }
  out["database"] = database_json();
  out["sequences"] = m_shared.db.catalog().all().size();
  out["requests"] = total.requests_total();
  out["numbers"] = total.numbers_total();
  out["pending"] = allocator.pending();
  out["connections"] = m_shared.open_sessions.load();
  return json_line(out);
}

}  // namespace pez::daemon
