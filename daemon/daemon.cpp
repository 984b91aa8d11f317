// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.hpp"

#include <sys/resource.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <exception>
#include <expected>
#include <memory>
#include <thread>
#include <vector>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "daemon/admin/admin.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/alloc/core.hpp"
#include "daemon/context.hpp"
#include "daemon/db/database.hpp"
#include "daemon/lifecycle.hpp"
#include "daemon/net/http_server.hpp"
#include "daemon/net/unix_server.hpp"
#include "daemon/ops/metrics.hpp"
#include "daemon/ops/operator_pages.hpp"
#include "daemon/ops/systemd.hpp"

namespace pez::daemon {

namespace asio = boost::asio;

namespace {

// What systemd is asked to wait for beyond the drain period at a stop: the connections the
// drain leaves are closed, the socket file removed, the threads joined.
constexpr std::chrono::seconds k_after_drain{5};

AllocatorOptions allocator_options(Config const& config) {
  AllocatorOptions options{config.request_timeout, config.mode, config.block, config.wrap_warning};
  options.admin_timeout = config.admin_timeout;
  return options;
}

// Raises the soft open-file limit to the hard one, and says how many client connections fit
// under it: each takes one descriptor, and some are kept for the database connections, the
// listeners and the event loops.
std::size_t connection_limit(Config const& config) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return config.max_connections;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return config.max_connections;
  // Besides the descriptors in steady use, room for connections accepted in a burst and not yet
  // started on their thread (the idle one closed to make room for each goes only then; the
  // HTTP listener lets at most 16 be on their way, http_server.hpp).
  auto const reserved = static_cast<rlim_t>(64 + 3 * config.threads + 2 * config.db_connections);
  auto const fit = limit.rlim_cur > reserved ? static_cast<std::size_t>(limit.rlim_cur - reserved) : 1;
  if (fit >= config.max_connections) return config.max_connections;
  bool const explicit_value = config.origins.contains("max_connections") &&
                              config.origins.at("max_connections").source != settings::Source::default_value;
  if (explicit_value) {
    spdlog::warn(
        "max_connections is {}, but the open-file limit ({}) leaves room for about {} connections: beyond "
        "that, accepting fails until some close; raise the limit (LimitNOFILE= in the unit, ulimit -n) "
        "or lower max_connections",
        config.max_connections, static_cast<std::uint64_t>(limit.rlim_cur), fit);
    return config.max_connections;
  }
  spdlog::info(
      "max_connections lowered from {} to {} to fit the open-file limit ({}); raise the limit "
      "(LimitNOFILE= in the unit, ulimit -n) to allow more",
      config.max_connections, fit, static_cast<std::uint64_t>(limit.rlim_cur));
  return fit;
}

// One line for systemctl status.
std::string service_status(Database const& db, Allocator const& allocator, Shared const& shared) {
  if (!db.up()) return "waiting for the database: " + db.last_error();
  return std::string("serving in ") + (allocator.mode() == Mode::block ? "block" : "strict") + " mode; database up (" +
         std::to_string(db.connections_up()) + " connections); " + std::to_string(shared.open_sessions.load()) +
         " client connections";
}

// An event loop thread besides the core: HTTP sessions only.
struct Worker {
  Worker(Shared& shared, OperatorPages const& pages, Metrics& metrics)
      : ctx(shared, pages, io.get_executor(), metrics, false) {}
  asio::io_context io{1};
  // Makes the loop open its descriptors (epoll, eventfd, timerfd) now, while some are free,
  // rather than at its first connection, which may come when the open-file limit is reached.
  asio::steady_timer opens_descriptors{io};
  Context ctx;
  std::thread thread;
};

// The Unix socket served: its path (empty when off) and whether systemd passed it.
struct UnixSocket {
  std::string path;
  bool passed = false;
};

std::vector<std::unique_ptr<Metrics>> metrics_per_thread(int threads) {
  std::vector<std::unique_ptr<Metrics>> all;
  for (int i = 0; i < std::max(threads, 1); ++i) all.push_back(std::make_unique<Metrics>());
  return all;
}

std::vector<Metrics const*> views(std::vector<std::unique_ptr<Metrics>> const& all) {
  std::vector<Metrics const*> out;
  out.reserve(all.size());
  for (auto const& m : all) out.push_back(m.get());
  return out;
}

// pezd while it runs: the parts built from the settings, and the event loops, listeners and
// signals driven through the Lifecycle (lifecycle.hpp), which says what each event means.
class Daemon {
 public:
  Daemon(Config config, int argc, char** argv);
  // Serves until told to stop; returns the process exit code.
  int run();

 private:
  std::expected<UnixSocket, std::string> open_listeners();
  void start(UnixSocket const& socket);
  void start_workers();
  // Makes the loops of the threads besides the core; returns every thread's context, the core's
  // first, for the HTTP listener.
  std::vector<Context*> make_workers();
  template <class Action>
  void on_every_thread(Action action);

  void wait_signal();
  void on_signal(int signal);
  void reload();
  void drain(int signal);
  // Stops once draining and nothing is left to answer.
  void settle();
  void close_now();
  void stop_loops();

  Config m_config;
  int m_argc;
  char** m_argv;
  asio::io_context m_io{1};
  std::vector<std::unique_ptr<Metrics>> m_metrics;  // one per thread, the core's first
  Database m_db;
  AsioClock m_clock;
  Core m_allocation;
  Lifecycle m_lifecycle;
  Shared m_shared;
  OperatorPages m_pages;
  Context m_core;
  std::vector<std::unique_ptr<Worker>> m_workers;
  UnixListener m_unix;
  HttpListener m_http;
  systemd::Notifier m_notifier;
  // Given its signals once serving: until then they keep their default meaning.
  asio::signal_set m_signals{m_io};
  asio::steady_timer m_drain_deadline{m_io};
  std::atomic<bool> m_worker_failed{false};
};

Daemon::Daemon(Config config, int argc, char** argv)
    : m_config(std::move(config)),
      m_argc(argc),
      m_argv(argv),
      m_metrics(metrics_per_thread(m_config.threads)),
      m_db(m_io,
           Database::Options{m_config.conn_params(), m_config.listen_conn_params(), m_config.db_connections,
                             TimeLimit{m_config.connect_timeout, "connect_timeout"},
                             TimeLimit{m_config.request_timeout, "request_timeout"}, m_config.reconnect_max,
                             m_config.require_synchronous_standby, m_config.usage_interval,
                             TimeLimit{m_config.admin_timeout, "admin_timeout"}, m_config.mode == Mode::block},
           *m_metrics.front()),
      m_clock(m_io),
      m_allocation(m_clock, m_db, *m_metrics.front(), allocator_options(m_config)),
      m_shared(m_config, m_allocation.allocator(), m_allocation.admin(), m_db, m_io.get_executor(), m_lifecycle,
               connection_limit(m_config), [this] { settle(); }),
      m_pages(m_shared, views(m_metrics)),
      m_core(m_shared, m_pages, m_io.get_executor(), *m_metrics.front(), true),
      m_unix(m_io, m_core),
      m_http(m_io, make_workers()),
      m_notifier(
          m_io,
          // systemd hears that pezd is ready once the database is set up and, for sequences
          // served in block mode, the first block of forward and reverse is in memory.
          [this] {
            bool warm = m_db.up();
            for (auto const* name : {"forward", "reverse"}) warm = m_allocation.allocator().warm_up(name) && warm;
            return warm;
          },
          [this] { return service_status(m_db, m_allocation.allocator(), m_shared); }) {}

std::vector<Context*> Daemon::make_workers() {
  std::vector<Context*> threads{&m_core};
  for (std::size_t i = 1; i < m_metrics.size(); ++i) {
    m_workers.push_back(std::make_unique<Worker>(m_shared, m_pages, *m_metrics[i]));
    threads.push_back(&m_workers.back()->ctx);
  }
  return threads;
}

std::expected<UnixSocket, std::string> Daemon::open_listeners() {
  auto passed = systemd::passed_unix_socket();
  if (!passed) return std::unexpected(passed.error());
  UnixSocket socket{m_config.socket_path, passed->has_value()};
  if (*passed) {
    auto adopted = m_unix.adopt(**passed);
    if (!adopted) return std::unexpected(adopted.error());
    socket.path = *adopted;
    if (socket.path != m_config.socket_path) {
      spdlog::warn("serving the socket systemd passed, {}, instead of the socket setting, {}", socket.path,
                   m_config.socket_path.empty() ? "off" : m_config.socket_path);
    }
  } else if (!socket.path.empty()) {
    if (auto ok = m_unix.open(socket.path, m_config.socket_group); !ok) return std::unexpected(ok.error());
  }
  if (m_config.http) {
    if (auto ok = m_http.open(*m_config.http); !ok) return std::unexpected(ok.error());
  }
  return socket;
}

void Daemon::start(UnixSocket const& socket) {
  m_db.start();
  if (!socket.path.empty()) {
    m_unix.start();
    spdlog::info("socket listening on {}{}", socket.path, socket.passed ? " (passed by systemd)" : "");
  }
  std::string http_address;
  if (m_config.http) {
    m_http.start();
    http_address = m_http.local_address();
    spdlog::info("http listening on {}", http_address);
  }
  m_lifecycle.listening(std::move(http_address));
  start_workers();
  spdlog::info("pezd {} started (mode {}, {} threads, max_count {}, request_timeout {}, max_connections {})", k_version,
               m_config.mode == Mode::block ? "block" : "strict", m_config.threads, m_config.max_count,
               settings::format_duration(m_config.request_timeout), m_shared.max_connections);
  m_notifier.start();
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) m_signals.add(signal);
  wait_signal();
}

void Daemon::start_workers() {
  for (auto& worker : m_workers) {
    worker->thread = std::thread([this, &worker_io = worker->io] {
      auto guard = asio::make_work_guard(worker_io);
      try {
        worker_io.run();
      } catch (std::exception const& e) {
        spdlog::critical("an event loop thread stopped on an unexpected error: {}; stopping pezd", e.what());
        m_worker_failed = true;
        m_io.stop();
      }
    });
  }
}

int Daemon::run() {
  auto socket = open_listeners();
  if (!socket) {
    spdlog::critical("{}", socket.error());
    return k_exit_failure;
  }
  start(*socket);
  m_io.run();
  for (auto& worker : m_workers) {
    worker->io.stop();
    if (worker->thread.joinable()) worker->thread.join();
  }
  m_unix.stop();
  return m_worker_failed ? k_exit_failure : k_exit_ok;
}

template <class Action>
void Daemon::on_every_thread(Action action) {
  action(m_core);
  for (auto& worker : m_workers) asio::post(worker->io, [&ctx = worker->ctx, action] { action(ctx); });
}

void Daemon::wait_signal() {
  m_signals.async_wait([this](boost::system::error_code ec, int signal) {
    if (!ec) on_signal(signal);
  });
}

void Daemon::on_signal(int signal) {
  if (signal == SIGHUP) {
    if (m_lifecycle.reload_signal() == Lifecycle::Action::reload) reload();
    wait_signal();
    return;
  }
  switch (m_lifecycle.stop_signal()) {
    case Lifecycle::Action::drain:
      drain(signal);
      wait_signal();
      settle();
      return;
    case Lifecycle::Action::close_now:
      spdlog::warn("second stop signal: closing every connection now");
      close_now();
      return;
    default:
      return;
  }
}

void Daemon::reload() {
  m_notifier.reloading();
  auto reloaded = load_config(m_argc, m_argv, settings::process_env());
  if (!reloaded) {
    spdlog::error("SIGHUP: not reloading: {}", reloaded.error().message);
  } else {
    apply_log_level(reloaded->config.log_level);
    spdlog::info("SIGHUP: log_level is now {}; other settings need a restart", reloaded->config.log_level);
  }
  m_notifier.reloaded();
}

void Daemon::drain(int signal) {
  char const* name = signal == SIGTERM ? "SIGTERM" : "SIGINT";
  // The longest a request or an admin command waits for the database, and a margin.
  auto const period = std::max(m_config.request_timeout, m_config.admin_timeout) + std::chrono::seconds(2);
  // systemd waits for the drain, and for the connections it leaves to close, whatever the
  // unit's TimeoutStopSec.
  m_notifier.stopping(std::string("shutting down (") + name + ")", period + k_after_drain);
  spdlog::info("{}: shutting down, answering {} requests on {} connections first", name,
               m_allocation.allocator().pending(), m_shared.open_sessions.load());
  m_unix.stop();
  m_http.stop();
  on_every_thread([](Context& ctx) { ctx.sessions.drain_all(); });
  m_drain_deadline.expires_after(period);
  m_drain_deadline.async_wait([this](boost::system::error_code ec) {
    if (ec || m_lifecycle.drain_deadline() != Lifecycle::Action::close_now) return;
    spdlog::warn("shutdown: {} connections still open after the drain period; closing them",
                 m_shared.open_sessions.load());
    close_now();
  });
}

void Daemon::settle() {
  Lifecycle::Outstanding const outstanding{m_shared.open_sessions.load(), m_allocation.allocator().pending(),
                                           m_allocation.admin().pending()};
  if (m_lifecycle.settled(outstanding) != Lifecycle::Action::finish) return;
  spdlog::info("pezd stopped");
  stop_loops();
}

void Daemon::close_now() {
  on_every_thread([](Context& ctx) { ctx.sessions.close_all(); });
  stop_loops();
}

void Daemon::stop_loops() {
  m_db.stop();
  m_io.stop();
  for (auto& worker : m_workers) worker->io.stop();
}

}  // namespace

int run_daemon(Config config, int argc, char** argv) { return Daemon(std::move(config), argc, argv).run(); }

}  // namespace pez::daemon
