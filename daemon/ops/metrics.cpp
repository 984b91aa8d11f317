// SPDX-License-Identifier: Apache-2.0
#include "daemon/ops/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <mutex>
#include <vector>

#include "common/forecast.hpp"
#include "daemon/ops/usage.hpp"

namespace pez::daemon {
namespace {

void append_number(std::string& out, double value) {
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    out += std::to_string(static_cast<long long>(value));
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void append_metric_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_metric(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

namespace {

// A counter and its value for each set of labels, in the order given.
void append_counter(std::string& out, std::string_view name, std::string_view help,
                    std::initializer_list<std::pair<std::string_view, std::uint64_t>> values) {
  append_metric_header(out, name, "counter", help);
  for (auto const& [labels, value] : values) append_metric(out, name, labels, static_cast<double>(value));
}

}  // namespace

void Metrics::http_request(unsigned status, Clock::duration took) {
  bump(m_http[status < m_http.size() ? status : 0]);
  latency(took);
}

void Metrics::socket_request(std::optional<Errc> error, Clock::duration took) {
  bump(m_socket[error ? static_cast<std::size_t>(*error) : k_errc_count]);
  latency(took);
}

void Metrics::latency(Clock::duration took) {
  double const seconds = std::chrono::duration<double>(took).count();
  std::size_t i = 0;
  while (i < k_buckets.size() && seconds > k_buckets[i]) ++i;
  bump(m_latency[i]);
  m_latency_sum.fetch_add(seconds, std::memory_order_relaxed);
  bump(m_latency_count);
}

void Metrics::numbers(std::string_view sequence, std::uint64_t count) {
  std::lock_guard lock(m_numbers_lock);
  auto it = m_numbers.find(sequence);
  if (it == m_numbers.end()) it = m_numbers.emplace(std::string(sequence), 0).first;
  it->second += count;
}

void Metrics::add_to(Metrics& total) const {
  auto add = [](auto const& from, auto& to) {
    for (std::size_t i = 0; i < from.size(); ++i) bump(to[i], read(from[i]));
  };
  add(m_http, total.m_http);
  add(m_socket, total.m_socket);
  add(m_latency, total.m_latency);
  add(m_db_errors, total.m_db_errors);
  add(m_connections, total.m_connections);
  add(m_dropped, total.m_dropped);
  add(m_catalog_reads, total.m_catalog_reads);
  bump(total.m_accept_failures, read(m_accept_failures));
  total.m_latency_sum.fetch_add(m_latency_sum.load(std::memory_order_relaxed), std::memory_order_relaxed);
  bump(total.m_latency_count, read(m_latency_count));
  bump(total.m_db_round_trips, read(m_db_round_trips));
  bump(total.m_db_connects, read(m_db_connects));
  bump(total.m_db_connect_failures, read(m_db_connect_failures));
  std::scoped_lock lock(m_numbers_lock, total.m_numbers_lock);
  for (auto const& [name, n] : m_numbers) total.m_numbers[name] += n;
}

std::uint64_t Metrics::requests_total() const {
  std::uint64_t total = 0;
  for (auto const& n : m_http) total += read(n);
  for (auto const& n : m_socket) total += read(n);
  return total;
}

std::uint64_t Metrics::numbers_total() const {
  std::lock_guard lock(m_numbers_lock);
  std::uint64_t total = 0;
  for (auto const& [key, value] : m_numbers) total += value;
  return total;
}

void Metrics::render(std::string& out) const {
  append_metric_header(out, "pez_requests_total", "counter",
                       "Requests answered, by transport and outcome (HTTP status code or socket answer).");
  for (std::size_t status = 0; status < m_http.size(); ++status) {
    if (read(m_http[status]) == 0) continue;
    append_metric(out, "pez_requests_total", "transport=\"http\",code=\"" + std::to_string(status) + "\"",
                  static_cast<double>(read(m_http[status])));
  }
  for (std::size_t i = 0; i < m_socket.size(); ++i) {
    if (read(m_socket[i]) == 0) continue;
    std::string_view const result = i == k_errc_count ? std::string_view("ok") : errc_token(static_cast<Errc>(i));
    append_metric(out, "pez_requests_total", "transport=\"socket\",result=\"" + std::string(result) + "\"",
                  static_cast<double>(read(m_socket[i])));
  }
  append_metric_header(out, "pez_request_duration_seconds", "histogram",
                       "Time from a complete request to its answer being ready.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < k_buckets.size(); ++i) {
    cumulative += read(m_latency[i]);
    std::string le = "le=\"";
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, k_buckets[i], std::chars_format::fixed);
    le.append(buf, static_cast<std::size_t>(end - buf));
    le += '"';
    append_metric(out, "pez_request_duration_seconds_bucket", le, static_cast<double>(cumulative));
  }
  cumulative += read(m_latency.back());
  append_metric(out, "pez_request_duration_seconds_bucket", "le=\"+Inf\"", static_cast<double>(cumulative));
  append_metric(out, "pez_request_duration_seconds_sum", "", m_latency_sum.load(std::memory_order_relaxed));
  append_metric(out, "pez_request_duration_seconds_count", "", static_cast<double>(read(m_latency_count)));

  append_metric_header(out, "pez_numbers_total", "counter", "Numbers handed out, by sequence.");
  {
    std::vector<std::pair<std::string, std::uint64_t>> sorted;
    {
      std::lock_guard lock(m_numbers_lock);
      sorted.assign(m_numbers.begin(), m_numbers.end());
    }
    std::ranges::sort(sorted);
    for (auto const& [name, value] : sorted) {
      append_metric(out, "pez_numbers_total", "sequence=\"" + name + "\"", static_cast<double>(value));
    }
  }
  append_counter(out, "pez_connections_total", "Client connections accepted, by transport.",
                 {{R"(transport="http")", read(m_connections[0])}, {R"(transport="socket")", read(m_connections[1])}});
  append_counter(out, "pez_connections_dropped_total",
                 "Client connections closed to stay within max_connections: an idle one (evicted), or a new one "
                 "when none was idle (refused).",
                 {{R"(reason="evicted")", read(m_dropped[0])}, {R"(reason="refused")", read(m_dropped[1])}});
  append_counter(out, "pez_accept_errors_total",
                 "Failures to accept a client connection, such as running out of file descriptors.",
                 {{"", read(m_accept_failures)}});
  append_counter(out, "pez_db_round_trips_total", "Statements sent to the database to take or reserve numbers.",
                 {{"", read(m_db_round_trips)}});
  append_counter(out, "pez_catalog_reads_total",
                 "Reads of the catalog of sequences: of all of them (whole: on connecting), or of the names "
                 "announced as changed or asked for and not known (names).",
                 {{R"(kind="whole")", read(m_catalog_reads[0])}, {R"(kind="names")", read(m_catalog_reads[1])}});
  append_counter(out, "pez_db_errors_total", "Failed database exchanges, by kind (connection, timeout, sql).",
                 {{R"(kind="connection")", read(m_db_errors[0])},
                  {R"(kind="timeout")", read(m_db_errors[1])},
                  {R"(kind="sql")", read(m_db_errors[2])}});
  append_counter(out, "pez_db_connects_total", "Database connection attempts, by result.",
                 {{R"(result="ok")", read(m_db_connects)}, {R"(result="failed")", read(m_db_connect_failures)}});
}

void append_usage_metrics(std::string& out, Usage const* usage) {
  static std::map<std::string, Usage::Entry, std::less<>> const k_none;
  auto const& all = usage != nullptr ? usage->all() : k_none;
  auto label = [](std::string const& name) { return "sequence=\"" + name + "\""; };
  append_metric_header(out, "pez_sequence_remaining", "gauge",
                       "Numbers a sequence can still hand out before it runs out (without cycle) or wraps (with "
                       "cycle), as its latest reading found (every usage_interval).");
  for (auto const& [name, entry] : all) {
    append_metric(out, "pez_sequence_remaining", label(name), static_cast<double>(entry.track.left()));
  }
  append_metric_header(out, "pez_sequence_cycles", "gauge",
                       "1 when a sequence starts over at the end of its range, 0 when it runs out there.");
  for (auto const& [name, entry] : all) {
    append_metric(out, "pez_sequence_cycles", label(name), entry.track.cycles() ? 1 : 0);
  }
  append_metric_header(out, "pez_sequence_rate", "gauge",
                       "Numbers taken from a sequence per second by every daemon on the database together, over the "
                       "last minute (window 1m) or hour (1h), from how far it moved; block mode counts a block when "
                       "it is reserved.");
  for (auto const& [name, entry] : all) {
    if (auto const rate = entry.track.minute()) {
      append_metric(out, "pez_sequence_rate", label(name) + ",window=\"1m\"", rate->per_second());
    }
    if (auto const rate = entry.track.hour()) {
      append_metric(out, "pez_sequence_rate", label(name) + ",window=\"1h\"", rate->per_second());
    }
  }
  append_metric_header(out, "pez_sequence_exhaustion_eta_seconds", "gauge",
                       "Seconds until a sequence runs out (without cycle) or wraps (with cycle) at the last hour's "
                       "rate: +Inf at a rate of 0, 0 once run out; absent until the rate is known.");
  for (auto const& [name, entry] : all) {
    std::optional<double> hourly;
    if (auto const hour = entry.track.hour()) hourly = hour->per_second();
    if (auto const eta = eta_seconds(entry.track.left(), hourly)) {
      append_metric(out, "pez_sequence_exhaustion_eta_seconds", label(name), *eta);
    }
  }
}

}  // namespace pez::daemon
