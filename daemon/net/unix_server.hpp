// SPDX-License-Identifier: Apache-2.0
// The Unix socket listener: its socket file (socket_file.hpp) and one session per connection
// speaking the line protocol of common/protocol, routed by route_socket (socket_router.hpp).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <expected>
#include <string>

#include "daemon/net/accept_loop.hpp"
#include "daemon/net/socket_file.hpp"

namespace pez::daemon {

class Context;

class UnixListener {
 public:
  UnixListener(boost::asio::io_context& io, Context& ctx);
  ~UnixListener();
  std::expected<void, std::string> open(std::string const& path, std::string const& group);
  // Serves a listening socket made by someone else (systemd's pezd.socket); its file is theirs
  // and stays when pezd stops. Returns the socket's path.
  std::expected<std::string, std::string> adopt(int fd);
  void start();
  // Stops accepting and removes the socket file (if this pezd made it and it is still there).
  void stop();

 private:
  void accept();
  boost::asio::io_context& m_io;
  Context& m_ctx;
  boost::asio::local::stream_protocol::acceptor m_acceptor;
  boost::asio::steady_timer m_pause;
  AcceptState m_accept;
  SocketFile m_file;
};

}  // namespace pez::daemon
