// SPDX-License-Identifier: Apache-2.0
// Accepting client connections for ever, for both listeners. Running out of file descriptors
// (or any other accept error) is counted, logged (one line per 10 seconds at most, however many
// happen) and followed by a short pause, never a stop: connections already open keep working, and
// new ones wait in the kernel's queue until a descriptor is free again. A listener that hands
// connections to other threads also pauses while too many are on their way (busy), so that a
// burst cannot hold more descriptors than max_connections leaves room for.
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

#include "daemon/ops/log_throttle.hpp"
#include "daemon/ops/metrics.hpp"

namespace pez::daemon {

struct AcceptState {
  boost::asio::steady_timer& pause;
  char const* what;
  Metrics& metrics;
  std::function<bool()> busy{};  // when true, wait a moment before accepting the next one
  LogThrottle throttle{};
};

template <typename Acceptor, typename OnSocket>
void accept_loop(Acceptor& acceptor, AcceptState& state, OnSocket on_socket) {
  acceptor.async_accept(
      [&acceptor, &state, on_socket](boost::system::error_code ec, typename Acceptor::protocol_type::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
          state.metrics.accept_failed();
          if (state.throttle.allow()) {
            bool const out_of_files = ec == boost::asio::error::no_descriptors || ec.value() == ENFILE;
            spdlog::error("{}: cannot accept a connection: {}{}; pausing accepts for 100ms{}", state.what, ec.message(),
                          out_of_files ? " (raise the open-file limit, LimitNOFILE=, or lower max_connections)" : "",
                          state.throttle.left_out_text());
          }
          state.pause.expires_after(std::chrono::milliseconds(100));
          state.pause.async_wait([&acceptor, &state, on_socket](boost::system::error_code wait_ec) {
            if (!wait_ec) accept_loop(acceptor, state, on_socket);
          });
          return;
        }
        on_socket(std::move(socket));
        if (state.busy && state.busy()) {
          state.pause.expires_after(std::chrono::milliseconds(1));
          state.pause.async_wait([&acceptor, &state, on_socket](boost::system::error_code wait_ec) {
            if (!wait_ec) accept_loop(acceptor, state, on_socket);
          });
          return;
        }
        accept_loop(acceptor, state, on_socket);
      });
}

}  // namespace pez::daemon
