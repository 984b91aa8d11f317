// SPDX-License-Identifier: Apache-2.0
// Counters and the request latency histogram behind /metrics (Prometheus text format 0.0.4).
// Each event loop thread counts into its own Metrics; /metrics adds them up. Counters are
// atomics, so the adding up may read them while their thread counts.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/errors.hpp"
#include "common/names.hpp"

namespace pez::daemon {

class Metrics {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Transport { http, socket };
  enum class DbError { connection, timeout, sql };
  // Why pezd closed a client connection it had just accepted or held (setting max_connections).
  enum class Dropped { evicted, refused };

  void http_request(unsigned status, Clock::duration took);
  // error is empty for an OK answer.
  void socket_request(std::optional<Errc> error, Clock::duration took);
  void numbers(std::string_view sequence, std::uint64_t count);
  void db_round_trip() { bump(m_db_round_trips); }
  void db_error(DbError kind) { bump(m_db_errors[static_cast<std::size_t>(kind)]); }
  void db_connect(bool ok) { bump(ok ? m_db_connects : m_db_connect_failures); }
  void client_connection(Transport transport) { bump(m_connections[transport == Transport::http ? 0 : 1]); }
  void connection_dropped(Dropped reason) { bump(m_dropped[reason == Dropped::evicted ? 0 : 1]); }
  void accept_failed() { bump(m_accept_failures); }
  // A read of the catalog: of every sequence (whole), or of the names it was asked for.
  void catalog_read(bool whole) { bump(m_catalog_reads[whole ? 0 : 1]); }

  // Adds these counters to total's.
  void add_to(Metrics& total) const;

  std::uint64_t requests_total() const;
  std::uint64_t numbers_total() const;

  // Appends the counters and histogram; the daemon adds its gauges.
  void render(std::string& out) const;

 private:
  using Counter = std::atomic<std::uint64_t>;
  static constexpr std::array<double, 14> k_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};
  static void bump(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  static std::uint64_t read(Counter const& c) { return c.load(std::memory_order_relaxed); }
  void latency(Clock::duration took);

  std::array<Counter, 600> m_http{};                 // by status code
  std::array<Counter, k_errc_count + 1> m_socket{};  // by Errc, and OK last
  mutable std::mutex m_numbers_lock;
  NameMap<std::uint64_t> m_numbers;
  std::array<Counter, k_buckets.size() + 1> m_latency{};
  std::atomic<double> m_latency_sum{0};
  Counter m_latency_count{0};
  Counter m_db_round_trips{0};
  std::array<Counter, 3> m_db_errors{};
  Counter m_db_connects{0};
  Counter m_db_connect_failures{0};
  std::array<Counter, 2> m_connections{};
  std::array<Counter, 2> m_dropped{};
  Counter m_accept_failures{0};
  std::array<Counter, 2> m_catalog_reads{};  // whole, names
};

// Prometheus text helpers for the daemon's gauges.
void append_metric_header(std::string& out, std::string_view name, std::string_view type, std::string_view help);
void append_metric(std::string& out, std::string_view name, std::string_view labels, double value);

class Usage;
// The rates and forecasts of every sequence (pez_sequence_remaining, _cycles, _rate and
// _exhaustion_eta_seconds): every family's header, and a sample of each sequence usage last read
// (none when it reads none).
void append_usage_metrics(std::string& out, Usage const* usage);

}  // namespace pez::daemon
