// SPDX-License-Identifier: Apache-2.0
#include "daemon/net/http_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <utility>

#include "daemon/config/config.hpp"
#include "daemon/context.hpp"
#include "daemon/net/accept_loop.hpp"
#include "daemon/net/http_session.hpp"
#include "daemon/net/thread_pick.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

HttpListener::HttpListener(asio::io_context& io, std::vector<Context*> threads)
    : m_io(io),
      m_threads(std::move(threads)),
      m_acceptor(io),
      m_pause(io),
      m_accept{m_pause, "http", m_threads.front()->metrics} {}

std::expected<void, std::string> HttpListener::open(Endpoint const& endpoint) {
  boost::system::error_code ec;
  tcp::resolver resolver(m_io);
  auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port),
                                  tcp::resolver::numeric_service | tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return std::unexpected("cannot resolve HTTP address " + endpoint_text(endpoint) + ": " +
                           (ec ? ec.message() : std::string("no address")));
  }
  auto const bind_to = results.begin()->endpoint();
  m_acceptor.open(bind_to.protocol(), ec);
  if (!ec) m_acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m_acceptor.bind(bind_to, ec);
  if (!ec) m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return std::unexpected("cannot listen for HTTP on " + endpoint_text(endpoint) + ": " + ec.message() +
                           " (is another program using that port? set http to another address)");
  }
  return {};
}

std::string HttpListener::local_address() const {
  boost::system::error_code ec;
  auto const ep = m_acceptor.local_endpoint(ec);
  if (ec) return "?";
  return endpoint_text(Endpoint{ep.address().to_string(), ep.port()});
}

void HttpListener::start() { accept(); }

void HttpListener::stop() {
  boost::system::error_code ec;
  m_acceptor.close(ec);
  m_pause.cancel();
}

void HttpListener::accept() {
  m_accept.busy = [this] { return m_in_transit->load(std::memory_order_relaxed) >= k_most_in_transit; };
  accept_loop(m_acceptor, m_accept, [this](tcp::socket socket) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    Context* target = &thread_for(socket);
    if (target->core) {
      target->http_open->fetch_add(1, std::memory_order_relaxed);
      start_http_session(std::move(socket), *target);
      return;
    }
    // The connection moves to its thread's event loop as a bare descriptor.
    auto const protocol = socket.local_endpoint(ec).protocol();
    int const fd = socket.release(ec);
    if (ec) return;
    target->http_open->fetch_add(1, std::memory_order_relaxed);
    m_in_transit->fetch_add(1, std::memory_order_relaxed);
    asio::post(target->executor, [target, protocol, fd, in_transit = m_in_transit] {
      tcp::socket moved(target->executor);
      boost::system::error_code assign_ec;
      moved.assign(protocol, fd, assign_ec);
      if (assign_ec) {
        ::close(fd);
        target->http_open->fetch_sub(1, std::memory_order_relaxed);
      } else {
        start_http_session(std::move(moved), *target);  // makes room if needed
      }
      in_transit->fetch_sub(1, std::memory_order_relaxed);
    });
  });
}

Context& HttpListener::thread_for(tcp::socket& socket) {
  if (m_threads.size() == 1) return *m_threads.front();
  m_open.resize(m_threads.size());
  for (std::size_t i = 0; i < m_threads.size(); ++i) {
    m_open[i] = m_threads[i]->http_open->load(std::memory_order_relaxed);
  }
  std::optional<unsigned> cpu;
  int value = -1;
  socklen_t size = sizeof value;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_INCOMING_CPU, &value, &size) == 0 && value >= 0) {
    cpu = static_cast<unsigned>(value);
  }
  return *m_threads[pick_thread(cpu, m_open, m_turn)];
}

}  // namespace pez::daemon
