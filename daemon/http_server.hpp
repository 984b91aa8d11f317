// The HTTP listener: accepts TCP connections and runs one session per connection, which frames
// HTTP/1.1 requests with Boost.Beast (keep-alive, pipelining, size and time limits) and hands
// them to the router; answers go out in request order.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <expected>
#include <memory>
#include <string>

namespace pez::daemon {

struct Context;
struct Endpoint;

class HttpListener {
 public:
  HttpListener(boost::asio::io_context& io, Context& ctx);
  std::expected<void, std::string> open(Endpoint const& endpoint);
  void start();
  void stop();
  // The address actually bound (the port may have been 0).
  std::string local_address() const;

 private:
  void accept();
  boost::asio::io_context& m_io;
  Context& m_ctx;
  boost::asio::ip::tcp::acceptor m_acceptor;
  boost::asio::steady_timer m_pause;
};

}  // namespace pez::daemon
