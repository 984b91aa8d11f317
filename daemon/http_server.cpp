#include "daemon/http_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <optional>
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/format.hpp"
#include "daemon/allocator.hpp"
#include "daemon/config.hpp"
#include "daemon/context.hpp"
#include "daemon/metrics.hpp"
#include "daemon/router.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto k_never = Clock::time_point::max();

bool is_parse_error(boost::system::error_code const& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category();
}

class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Context& ctx)
      : m_socket(std::move(socket)), m_ctx(ctx), m_timer(m_socket.get_executor()) {
    boost::system::error_code ec;
    auto const peer = m_socket.remote_endpoint(ec);
    m_peer = ec ? std::string("unknown peer") : peer.address().to_string() + ":" + std::to_string(peer.port());
  }

  void start() {
    m_id = m_ctx.sessions.add(weak_from_this());
    m_ctx.metrics.client_connection(Metrics::Transport::http);
    wait_for_request();
  }

  void drain() override {
    m_draining = true;
    if (m_slots.empty() && !m_writing) close();
  }

  void close() override {
    if (m_closed) return;
    m_closed = true;
    boost::system::error_code ec;
    m_socket.shutdown(tcp::socket::shutdown_both, ec);
    m_socket.close(ec);
    m_timer.cancel();
    m_ctx.sessions.remove(m_id);
  }

 private:
  using Response = http::response<http::string_body>;
  struct Slot {
    Response response;
    bool ready = false;
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;
    Clock::time_point started;
  };

  // Waits for the first byte of the next request under the idle timeout; the request itself
  // then has header_timeout to arrive whole.
  void wait_for_request() {
    if (m_closed || m_draining) return;
    if (m_slots.size() >= m_ctx.config.pipeline_limit) {
      m_read_paused = true;
      return;
    }
    if (m_buffer.size() > 0) {
      read_request();
      return;
    }
    set_read_deadline(m_ctx.config.idle_timeout);
    m_socket.async_wait(tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      if (self->m_closed) return;
      if (ec) {
        self->close();
        return;
      }
      self->read_request();
    });
  }

  void read_request() {
    m_parser.emplace();
    m_parser->header_limit(static_cast<std::uint32_t>(m_ctx.config.header_limit));
    m_parser->body_limit(m_ctx.config.body_limit);
    set_read_deadline(m_ctx.config.header_timeout);
    http::async_read(m_socket, m_buffer, *m_parser,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(boost::system::error_code ec) {
    m_read_deadline = k_never;
    if (m_closed) return;
    if (ec == http::error::end_of_stream) {
      m_peer_done = true;
      if (m_slots.empty() && !m_writing) close();
      return;
    }
    if (ec) {
      if (ec == http::error::header_limit) {
        refuse(431, "the request line and headers are larger than " + std::to_string(m_ctx.config.header_limit) +
                        " bytes (setting header_limit)");
      } else if (ec == http::error::body_limit) {
        refuse(413, "the request body is larger than " + std::to_string(m_ctx.config.body_limit) +
                        " bytes (setting body_limit)");
      } else if (is_parse_error(ec) && ec != http::error::partial_message) {
        refuse(400, "malformed HTTP request: " + ec.message());
      } else {
        spdlog::debug("http {}: closing: {}", m_peer, ec.message());
        close();
      }
      return;
    }
    auto request = m_parser->release();
    bool const keep_alive = request.keep_alive();
    handle(request);
    if (keep_alive) {
      wait_for_request();
    } else {
      m_peer_done = true;
    }
  }

  // A request that cannot be read gets one answer and the connection is closed.
  void refuse(unsigned status, std::string const& message) {
    spdlog::debug("http {}: {} {}", m_peer, status, message);
    Slot& slot = push_slot(11, false, false);
    slot.response.result(status);
    slot.response.set(http::field::content_type, "application/json");
    slot.response.body() = error_body(message);
    finish_slot(slot, status);
    m_peer_done = true;
  }

  Slot& push_slot(unsigned version, bool keep_alive, bool head) {
    m_slots.emplace_back();
    Slot& slot = m_slots.back();
    slot.version = version;
    slot.keep_alive = keep_alive && !m_draining;
    slot.head = head;
    slot.started = Clock::now();
    return slot;
  }

  void handle(http::request<http::string_body> const& request) {
    auto const method = request.method_string();
    Route route = pez::daemon::route(method, request.target(), m_ctx.config.max_count);
    Slot& slot = push_slot(request.version(), request.keep_alive(), route.head);
    std::uint64_t const id = m_first_id + m_slots.size() - 1;

    if (m_ctx.draining) {
      fill(slot, error_reply(503, "pezd is shutting down; try again in a moment"));
      return;
    }
    if (auto* reply = std::get_if<Reply>(&route.what)) {
      fill(slot, *reply);
    } else if (auto* page = std::get_if<OpsPage>(&route.what)) {
      fill(slot, m_ctx.ops_page(*page));
    } else {
      auto& take = std::get<TakeNumbers>(route.what);
      auto const count = route.head ? 0 : take.count;
      m_ctx.allocator.allocate(take.name, count,
                               [self = shared_from_this(), id, api = take.api](std::expected<Numbers, Error> numbers) {
                                 self->on_numbers(id, api, std::move(numbers));
                               });
    }
  }

  void on_numbers(std::uint64_t id, int api, std::expected<Numbers, Error> numbers) {
    if (m_closed || id < m_first_id || id - m_first_id >= m_slots.size()) return;
    Slot& slot = m_slots[id - m_first_id];
    if (!numbers) {
      if (numbers.error().code == Errc::internal) spdlog::error("http {}: {}", m_peer, numbers.error().message);
      fill(slot, error_reply(static_cast<unsigned>(errc_http_status(numbers.error().code)), numbers.error().message));
      return;
    }
    Reply reply;
    if (!slot.head) {
      if (api == 1) {
        append_v1_body(reply.body, numbers->front());
      } else {
        append_v2_body(reply.body, *numbers);
      }
    }
    fill(slot, reply, /*numbers=*/true);
  }

  void fill(Slot& slot, Reply const& reply, bool numbers = false) {
    auto& res = slot.response;
    res.result(reply.status);
    res.set(http::field::content_type, reply.content_type);
    if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
    if (reply.retry_after) res.set(http::field::retry_after, "1");
    if (slot.head) {
      // HEAD of a number path says only whether GET would work: no numbers are taken for it.
      if (!numbers) res.content_length(reply.body.size());
    } else {
      res.body() = reply.body;
      res.content_length(reply.body.size());
    }
    finish_slot(slot, reply.status);
  }

  void finish_slot(Slot& slot, unsigned status) {
    slot.response.version(slot.version);
    slot.response.keep_alive(slot.keep_alive && !m_draining);
    slot.ready = true;
    m_ctx.metrics.request(Metrics::Transport::http, std::to_string(status), Clock::now() - slot.started);
    write_next();
  }

  void write_next() {
    if (m_closed || m_writing || m_slots.empty() || !m_slots.front().ready) return;
    m_writing = true;
    set_write_deadline(m_ctx.config.header_timeout);
    http::async_write(m_socket, m_slots.front().response,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_written(ec); });
  }

  void on_written(boost::system::error_code ec) {
    m_writing = false;
    m_write_deadline = k_never;
    if (m_closed) return;
    if (ec) {
      spdlog::debug("http {}: write failed: {}", m_peer, ec.message());
      close();
      return;
    }
    bool const keep_alive = m_slots.front().response.keep_alive();
    m_slots.pop_front();
    ++m_first_id;
    if (!keep_alive) {
      close();
      return;
    }
    if (m_slots.empty() && (m_peer_done || m_draining)) {
      close();
      return;
    }
    write_next();
    if (m_read_paused && m_slots.size() < m_ctx.config.pipeline_limit) {
      m_read_paused = false;
      wait_for_request();
    }
  }

  void set_read_deadline(std::chrono::milliseconds timeout) {
    m_read_deadline = Clock::now() + timeout;
    arm_timer();
  }

  void set_write_deadline(std::chrono::milliseconds timeout) {
    m_write_deadline = Clock::now() + timeout;
    arm_timer();
  }

  // One timer serves both deadlines; moving a deadline later costs nothing until it fires.
  void arm_timer() {
    auto const next = std::min(m_read_deadline, m_write_deadline);
    if (next == k_never || (m_timer_armed && m_timer_at <= next)) return;
    m_timer_armed = true;
    m_timer_at = next;
    m_timer.expires_at(next);
    m_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      self->m_timer_armed = false;
      self->on_timer();
    });
  }

  void on_timer() {
    if (m_closed) return;
    auto const now = Clock::now();
    if (m_read_deadline <= now || m_write_deadline <= now) {
      spdlog::debug("http {}: closing: {}", m_peer,
                    m_write_deadline <= now ? "the client did not read its answers in time"
                                            : "no complete request in time");
      close();
      return;
    }
    arm_timer();
  }

  tcp::socket m_socket;
  Context& m_ctx;
  asio::steady_timer m_timer;
  std::string m_peer;
  std::uint64_t m_id = 0;
  beast::flat_buffer m_buffer;
  std::optional<http::request_parser<http::string_body>> m_parser;
  std::deque<Slot> m_slots;
  std::uint64_t m_first_id = 0;  // id of m_slots.front()
  Clock::time_point m_read_deadline = k_never;
  Clock::time_point m_write_deadline = k_never;
  Clock::time_point m_timer_at = k_never;
  bool m_timer_armed = false;
  bool m_writing = false;
  bool m_read_paused = false;
  bool m_peer_done = false;
  bool m_draining = false;
  bool m_closed = false;
};

}  // namespace

HttpListener::HttpListener(asio::io_context& io, Context& ctx) : m_io(io), m_ctx(ctx), m_acceptor(io), m_pause(io) {}

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
  m_acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !m_acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors or similar: say so, pause a little, and carry on.
      spdlog::error("http: cannot accept a connection: {}; pausing accepts for 100ms", ec.message());
      m_pause.expires_after(std::chrono::milliseconds(100));
      m_pause.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    std::make_shared<HttpSession>(std::move(socket), m_ctx)->start();
    accept();
  });
}

}  // namespace pez::daemon
