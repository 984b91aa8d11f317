// SPDX-License-Identifier: Apache-2.0
// The pages for operators: GET /healthz, /readyz and /metrics, and the socket's STATUS (pez
// status). They read the core thread's state: the database, the allocator, every thread's
// metrics and the daemon's lifecycle.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "daemon/api/router.hpp"

namespace pez::daemon {

class Metrics;
struct Shared;

// On the core thread only.
class OperatorPages {
 public:
  using Clock = std::chrono::steady_clock;

  // metrics: every thread's, the core's first.
  OperatorPages(Shared const& shared, std::vector<Metrics const*> metrics)
      : m_shared(shared), m_metrics(std::move(metrics)) {}

  Reply page(OpsPage page) const;
  // One line of JSON describing the daemon (socket STATUS, pez status).
  std::string status_json() const;

  bool ready() const;
  // Why pezd cannot hand out numbers now (empty when it can): the kind (unavailable, or
  // misconfigured while its database settings keep the database away) and a sentence with
  // libpq's text, for the log and the socket.
  Error not_ready_error() const;
  // The same without libpq's text (socket paths, role names), for HTTP: /readyz.
  std::string not_ready_public_reason() const;

 private:
  Reply readyz() const;
  Reply metrics_page() const;
  nlohmann::ordered_json database_json() const;

  Shared const& m_shared;
  std::vector<Metrics const*> const m_metrics;
  Clock::time_point const m_started = Clock::now();
};

}  // namespace pez::daemon
