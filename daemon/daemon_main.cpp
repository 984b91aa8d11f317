// SPDX-License-Identifier: Apache-2.0
// pezd's main(): settings read and checked, the one-shot actions (help, version, migrate,
// print-config, check-config), logging set up, then the daemon run.
#include "daemon/daemon.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "common/errors.hpp"
#include "common/stdio.hpp"
#include "daemon/db/migrate.hpp"

namespace pez::daemon {

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

// What pezd prints and exits after (--help, --version, --print-config, --check-config): exit 1,
// saying why, when it cannot be written.
int print_out(std::string const& text) {
  if (auto written = write_stdout(text); !written) {
    std::fprintf(stderr, "pezd: error: cannot write to standard output: %s\n", written.error().c_str());
    return k_exit_failure;
  }
  return k_exit_ok;
}

}  // namespace

void apply_log_level(std::string const& level) {
  spdlog::set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
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
      return print_out(invocation->text);
    case Invocation::Action::migrate:
      return migrate_schema(invocation->config);
    case Invocation::Action::print_config:
      for (auto const& warning : invocation->warnings) std::fprintf(stderr, "pezd: warning: %s\n", warning.c_str());
      return print_out(print_config(invocation->config));
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
      return print_out("pezd: the settings are valid (config file: " + (path.empty() ? std::string("none") : path) +
                       ")\n");
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
