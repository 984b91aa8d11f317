// SPDX-License-Identifier: Apache-2.0
// The HTTP listener: accepts TCP connections and runs one session per connection
// (http_session.hpp) on the thread it picks.
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

// Accepts on the core thread and hands each connection to a thread: the one of the CPU its
// packets arrive on, within a bound of balance (thread_pick.hpp).
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
  Context& thread_for(boost::asio::ip::tcp::socket& socket);
  boost::asio::io_context& m_io;
  std::vector<Context*> m_threads;
  std::vector<std::size_t> m_open;  // each thread's open connections, read at each accept
  std::size_t m_turn = 0;
  boost::asio::ip::tcp::acceptor m_acceptor;
  boost::asio::steady_timer m_pause;
  AcceptState m_accept;
  // Connections accepted and not started on their thread yet (at most k_most_in_transit).
  static constexpr int k_most_in_transit = 16;
  std::shared_ptr<std::atomic<int>> m_in_transit = std::make_shared<std::atomic<int>>(0);
};

}  // namespace pez::daemon
