// Accepting client connections for ever, for both listeners. Running out of file descriptors
// (or any other accept error) is logged and followed by a short pause, never a stop.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <spdlog/spdlog.h>

namespace pez::daemon {

template <typename Acceptor, typename OnSocket>
void accept_loop(Acceptor& acceptor, boost::asio::steady_timer& pause, char const* what, OnSocket on_socket) {
  acceptor.async_accept([&acceptor, &pause, what, on_socket](boost::system::error_code ec,
                                                             typename Acceptor::protocol_type::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      spdlog::error("{}: cannot accept a connection: {}; pausing accepts for 100ms", what, ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      pause.async_wait([&acceptor, &pause, what, on_socket](boost::system::error_code wait_ec) {
        if (!wait_ec) accept_loop(acceptor, pause, what, on_socket);
      });
      return;
    }
    on_socket(std::move(socket));
    accept_loop(acceptor, pause, what, on_socket);
  });
}

}  // namespace pez::daemon
