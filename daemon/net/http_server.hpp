// SPDX-License-Identifier: Apache-2.0
// The HTTP listener: accepts TCP connections and runs one session per connection, which frames
// HTTP/1.1 requests with Boost.Beast (keep-alive, pipelining, size and time limits) and hands
// them to the router; answers go out in request order.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "daemon/net/accept_loop.hpp"

namespace pez::daemon {

class Context;
struct Endpoint;

// Accepts on the core thread and hands each connection to the next thread in turn.
class HttpListener {
 public:
  HttpListener(boost::asio::io_context& io, std::vector<Context*> threads);
  std::expected<void, std::string> open(Endpoint const& endpoint);
  void start();
  void stop();
  // The address actually bound (the port may have been 0).
  std::string local_address() const;

 private:
  void accept();
  boost::asio::io_context& m_io;
  std::vector<Context*> m_threads;
  std::size_t m_next = 0;
  boost::asio::ip::tcp::acceptor m_acceptor;
  boost::asio::steady_timer m_pause;
  AcceptState m_accept;
  // Connections accepted and not started on their thread yet (at most k_most_in_transit).
  static constexpr int k_most_in_transit = 16;
  std::shared_ptr<std::atomic<int>> m_in_transit = std::make_shared<std::atomic<int>>(0);
};

}  // namespace pez::daemon
