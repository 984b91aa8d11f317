// Counters and the request latency histogram behind /metrics (Prometheus text format 0.0.4).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <optional>

#include "common/errors.hpp"

namespace pez::daemon {

class Metrics {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Transport { http, socket };

  void http_request(unsigned status, Clock::duration took);
  // error is empty for an OK answer.
  void socket_request(std::optional<Errc> error, Clock::duration took);
  void numbers(std::string_view sequence, std::uint64_t count);
  void db_round_trip() { ++m_db_round_trips; }
  void db_error(std::string_view kind) { ++m_db_errors[std::string(kind)]; }
  void db_connect(bool ok) { ++(ok ? m_db_connects : m_db_connect_failures); }
  void client_connection(Transport transport) { ++m_connections[transport == Transport::http ? 0 : 1]; }

  std::uint64_t requests_total() const;
  std::uint64_t numbers_total() const;

  // Appends the counters and histogram; the daemon adds its gauges.
  void render(std::string& out) const;

 private:
  static constexpr std::array<double, 14> k_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};
  void latency(Clock::duration took);

  std::array<std::uint64_t, 600> m_http{};                   // by status code
  std::array<std::uint64_t, k_errc_count + 1> m_socket{};     // by Errc, and OK last
  std::map<std::string, std::uint64_t, std::less<>> m_numbers;
  std::array<std::uint64_t, k_buckets.size() + 1> m_latency{};
  double m_latency_sum = 0;
  std::uint64_t m_latency_count = 0;
  std::uint64_t m_db_round_trips = 0;
  std::map<std::string, std::uint64_t> m_db_errors;
  std::uint64_t m_db_connects = 0;
  std::uint64_t m_db_connect_failures = 0;
  std::array<std::uint64_t, 2> m_connections{};
};

// Prometheus text helpers for the daemon's gauges.
void append_metric_header(std::string& out, std::string_view name, std::string_view type, std::string_view help);
void append_metric(std::string& out, std::string_view name, std::string_view labels, double value);

}  // namespace pez::daemon
