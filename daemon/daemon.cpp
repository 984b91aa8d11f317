// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.hpp"

#include <sys/resource.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "common/errors.hpp"
#include "common/stdio.hpp"
#include "common/version.hpp"
#include "daemon/admin.hpp"
#include "daemon/allocator.hpp"
#include "daemon/context.hpp"
#include "daemon/core.hpp"
#include "daemon/database.hpp"
#include "daemon/http_server.hpp"
#include "daemon/metrics.hpp"
#include "daemon/migrate.hpp"
#include "daemon/systemd.hpp"
#include "daemon/unix_server.hpp"

namespace pez::daemon {

namespace asio = boost::asio;

namespace {

void setup_logging(std::string const& level) {
  // Every event loop thread logs: the sink and the formatter's cached time need the lock.
  auto logger = spdlog::stderr_logger_mt("pezd");
  // UTC with its zone, as the admin answers' times are: one clock for the journal and the API.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l: %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
  spdlog::flush_on(spdlog::level::trace);
}

void apply_log_level(std::string const& level) {
  spdlog::set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
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

}  // namespace

namespace {

// An event loop thread besides the core: HTTP sessions only.
struct Worker {
  Worker(Shared& shared) : ctx(shared, io.get_executor(), metrics, false) {}
  asio::io_context io{1};
  // Makes the loop open its descriptors (epoll, eventfd, timerfd) now, while some are free,
  // rather than at its first connection, which may come when the open-file limit is reached.
  asio::steady_timer opens_descriptors{io};
  Metrics metrics;
  Context ctx;
  std::thread thread;
};

}  // namespace

int run_daemon(Config config, int argc, char** argv) {
  asio::io_context io(1);
  Metrics metrics;
  Database db(io,
              Database::Options{config.conn_params(), config.listen_conn_params(), config.db_connections,
                                config.connect_timeout, config.request_timeout, config.reconnect_max,
                                config.require_synchronous_standby, config.usage_interval},
              metrics);
  AsioClock clock(io);
  Core core_of_allocation(clock, db, metrics,
                          AllocatorOptions{config.request_timeout, config.mode, config.block, config.wrap_warning});
  Allocator& allocator = core_of_allocation.allocator();
  Admin& admin = core_of_allocation.admin();
  Shared shared(config, allocator, db, io.get_executor());
  shared.admin = &admin;
  shared.max_connections = connection_limit(config);
  Context core(shared, io.get_executor(), metrics, true);
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Context*> http_threads{&core};
  shared.metrics.push_back(&metrics);
  for (int i = 1; i < config.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(shared));
    http_threads.push_back(&workers.back()->ctx);
    shared.metrics.push_back(&workers.back()->metrics);
  }

  UnixListener unix_listener(io, core);
  HttpListener http_listener(io, http_threads);
  auto passed = systemd::passed_unix_socket();
  if (!passed) {
    spdlog::critical("{}", passed.error());
    return k_exit_failure;
  }
  std::string socket_path = config.socket_path;
  if (*passed) {
    auto adopted = unix_listener.adopt(**passed);
    if (!adopted) {
      spdlog::critical("{}", adopted.error());
      return k_exit_failure;
    }
    socket_path = *adopted;
    if (socket_path != config.socket_path) {
      spdlog::warn("serving the socket systemd passed, {}, instead of the socket setting, {}", socket_path,
                   config.socket_path.empty() ? "off" : config.socket_path);
    }
  } else if (!socket_path.empty()) {
    if (auto ok = unix_listener.open(socket_path, config.socket_group); !ok) {
      spdlog::critical("{}", ok.error());
      return k_exit_failure;
    }
  }
  if (config.http) {
    if (auto ok = http_listener.open(*config.http); !ok) {
      spdlog::critical("{}", ok.error());
      return k_exit_failure;
    }
  }

  db.start();
  if (!socket_path.empty()) {
    unix_listener.start();
    spdlog::info("socket listening on {}{}", socket_path, *passed ? " (passed by systemd)" : "");
  }
  if (config.http) {
    http_listener.start();
    shared.http_address = http_listener.local_address();
    spdlog::info("http listening on {}", shared.http_address);
  }
  std::atomic<bool> worker_failed{false};
  for (auto& worker : workers) {
    worker->thread = std::thread([&worker_io = worker->io, &io, &worker_failed] {
      auto guard = asio::make_work_guard(worker_io);
      try {
        worker_io.run();
      } catch (std::exception const& e) {
        spdlog::critical("an event loop thread stopped on an unexpected error: {}; stopping pezd", e.what());
        worker_failed = true;
        io.stop();
      }
    });
  }
  spdlog::info("pezd {} started (mode {}, {} threads, max_count {}, request_timeout {}, max_connections {})", k_version,
               config.mode == Mode::block ? "block" : "strict", config.threads, config.max_count,
               settings::format_duration(config.request_timeout), shared.max_connections);

  // systemd hears that pezd is ready once the database is set up and, for sequences served in
  // block mode, the first block of forward and reverse is in memory.
  systemd::Notifier notifier(
      io,
      [&] {
        bool warm = db.up();
        for (auto const* name : {"forward", "reverse"}) warm = allocator.warm_up(name) && warm;
        return warm;
      },
      [&] { return service_status(db, allocator, shared); });
  notifier.start();

  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  asio::steady_timer drain_deadline(io);
  bool stopping = false;
  bool stopped = false;

  auto on_every_thread = [&](auto action) {
    action(core);
    for (auto& worker : workers) asio::post(worker->io, [&ctx = worker->ctx, action] { action(ctx); });
  };
  auto stop_all = [&] {
    db.stop();
    io.stop();
    for (auto& worker : workers) worker->io.stop();
  };
  auto finish = [&] {
    if (!stopping || stopped || shared.open_sessions.load() > 0 || allocator.pending() > 0 || admin.pending() > 0)
      return;
    stopped = true;
    spdlog::info("pezd stopped");
    stop_all();
  };
  shared.on_all_closed = finish;

  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        notifier.reloading();
        auto reloaded = load_config(argc, argv, settings::process_env());
        if (!reloaded) {
          spdlog::error("SIGHUP: not reloading: {}", reloaded.error().message);
        } else {
          apply_log_level(reloaded->config.log_level);
          spdlog::info("SIGHUP: log_level is now {}; other settings need a restart", reloaded->config.log_level);
        }
        notifier.reloaded();
        wait_signal();
        return;
      }
      if (stopping) {
        spdlog::warn("second stop signal: closing every connection now");
        on_every_thread([](Context& ctx) { ctx.sessions.close_all(); });
        stop_all();
        return;
      }
      stopping = true;
      notifier.stopping(std::string("shutting down (") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
      spdlog::info("{}: shutting down, answering {} requests on {} connections first",
                   signal == SIGTERM ? "SIGTERM" : "SIGINT", allocator.pending(), shared.open_sessions.load());
      shared.draining = true;
      unix_listener.stop();
      http_listener.stop();
      on_every_thread([](Context& ctx) { ctx.sessions.drain_all(); });
      drain_deadline.expires_after(config.request_timeout + std::chrono::seconds(2));
      drain_deadline.async_wait([&](boost::system::error_code wait_ec) {
        if (wait_ec) return;
        spdlog::warn("shutdown: {} connections still open after the drain period; closing them",
                     shared.open_sessions.load());
        on_every_thread([](Context& ctx) { ctx.sessions.close_all(); });
        stop_all();
      });
      wait_signal();
      finish();
    });
  };
  wait_signal();

  io.run();
  for (auto& worker : workers) {
    worker->io.stop();
    if (worker->thread.joinable()) worker->thread.join();
  }
  unix_listener.stop();
  return worker_failed ? k_exit_failure : k_exit_ok;
}

int daemon_main(int argc, char** argv) {
  // Before anything opens a descriptor: a closed 0-2 would otherwise become a listener or a
  // database connection, and the log would be written into it.
  if (!ensure_standard_descriptors().ok) {
    std::fputs("pezd: error: cannot open /dev/null for a closed standard descriptor\n", stderr);
    return k_exit_failure;
  }
  std::signal(SIGPIPE, SIG_IGN);
  auto invocation = load_config(argc, argv, settings::process_env(), settings::process_env_names("PEZ_"));
  if (!invocation) {
    std::fprintf(stderr, "pezd: error: %s\n", invocation.error().message.c_str());
    return errc_exit_code(invocation.error().code);
  }
  switch (invocation->action) {
    case Invocation::Action::run:
      break;
    case Invocation::Action::help:
    case Invocation::Action::version:
      std::fputs(invocation->text.c_str(), stdout);
      return k_exit_ok;
    case Invocation::Action::migrate:
      return migrate_schema(invocation->config);
    case Invocation::Action::print_config:
      for (auto const& warning : invocation->warnings) std::fprintf(stderr, "pezd: warning: %s\n", warning.c_str());
      std::fputs(print_config(invocation->config).c_str(), stdout);
      return k_exit_ok;
    case Invocation::Action::check_config: {
      if (auto ok = check_config(invocation->config); !ok) {
        std::fprintf(stderr, "pezd: error: %s\n", ok.error().c_str());
        return k_exit_config;
      }
      if (!invocation->warnings.empty()) {
        for (auto const& warning : invocation->warnings) std::fprintf(stderr, "pezd: error: %s\n", warning.c_str());
        return k_exit_config;
      }
      auto const& path = invocation->config.config_path;
      std::printf("pezd: the settings are valid (config file: %s)\n", path.empty() ? "none" : path.c_str());
      return k_exit_ok;
    }
  }
  setup_logging(invocation->config.log_level);
  for (auto const& warning : invocation->warnings) spdlog::warn("{}", warning);
  try {
    return run_daemon(std::move(invocation->config), argc, argv);
  } catch (std::exception const& e) {
    spdlog::critical("stopped by an unexpected error: {}", e.what());
    return k_exit_failure;
  }
}

}  // namespace pez::daemon
