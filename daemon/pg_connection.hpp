// SPDX-License-Identifier: Apache-2.0
// One PostgreSQL connection driven by libpq's asynchronous API on the event loop: the
// connection's socket is watched by Asio, and no libpq call here ever waits for the server.
#pragma once

#include <libpq-fe.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace pez::daemon {

struct DbError {
  enum class Kind {
    connection,  // the connection is gone (or never came up); it must be reopened
    timeout,     // the server did not answer in time; the connection was closed
    sql,         // the server refused the statement; the connection is still usable
  };
  Kind kind;
  std::string sqlstate;  // for sql errors, and the warning that made an exchange untrusted
  std::string message;
};

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;
using PgResults = std::vector<PgResult>;

// libpq keywords and values, in order (see PQconnectStartParams).
using ConnParams = std::vector<std::pair<std::string, std::string>>;

class PgConnection : public std::enable_shared_from_this<PgConnection> {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using ConnectHandler = std::move_only_function<void(std::expected<void, DbError>)>;
  using ResultHandler = std::move_only_function<void(std::expected<PgResults, DbError>)>;
  using LostHandler = std::function<void(DbError const&)>;
  using NotifyHandler = std::function<void(std::string_view channel, std::string_view payload)>;

  static std::shared_ptr<PgConnection> create(boost::asio::io_context& io);
  ~PgConnection();
  PgConnection(PgConnection const&) = delete;
  PgConnection& operator=(PgConnection const&) = delete;

  // Opens the connection (multi-host strings and target_session_attrs are libpq's business).
  void connect(ConnParams const& params, Duration timeout, ConnectHandler handler);

  // Runs a simple-protocol query string (it may hold several statements).
  void exec(std::string const& sql, Duration timeout, ResultHandler handler);
  // Runs one statement with text parameters.
  void exec_params(std::string const& sql, std::span<char const* const> params, Duration timeout,
                   ResultHandler handler);

  // Called when the connection breaks while no statement is running.
  void on_lost(LostHandler handler) { m_on_lost = std::move(handler); }
  void on_notify(NotifyHandler handler) { m_on_notify = std::move(handler); }

  void close();
  bool is_open() const { return m_conn != nullptr && m_connected; }
  bool busy() const { return static_cast<bool>(m_pending); }
  // "host:port" of the server, for logs.
  std::string server() const;
  // The role it connected as.
  std::string user() const;

 private:
  explicit PgConnection(boost::asio::io_context& io);
  void wait_connect(PostgresPollingStatusType want);
  void on_connect_ready();
  void start(std::function<int(PGconn*)> const& send, Duration timeout, ResultHandler handler);
  void flush();
  void wait_readable();
  void on_readable();
  void collect();
  // Hands queued notifications to on_notify; false if the connection was closed meanwhile.
  bool deliver_notifications();
  void finish();
  void fail(DbError::Kind kind, std::string message, std::string sqlstate = {});
  void reset_socket();
  static void notice_receiver(void* self, PGresult const* result);

  boost::asio::io_context& m_io;
  boost::asio::posix::stream_descriptor m_socket;
  boost::asio::steady_timer m_deadline;
  PGconn* m_conn = nullptr;
  bool m_connected = false;
  bool m_reading = false;
  bool m_writing = false;
  unsigned m_epoch = 0;  // bumped on close, so late callbacks of an old socket are ignored
  ConnectHandler m_connect_handler;
  ResultHandler m_pending;
  PgResults m_results;
  std::optional<DbError> m_error;
  std::string m_warning;
  std::string m_fatal;  // a FATAL notice the server sent before it closed an idle connection
  LostHandler m_on_lost;
  NotifyHandler m_on_notify;
};

std::string first_line(char const* message);

// libpq's text of a failed connection as one line a log can show: each failed host's line
// apart ("; "), its hint in parentheses, the SQLSTATE of a verbose server message taken out
// into sqlstate and its LOCATION line left out.
struct LibpqText {
  std::string text;
  std::string sqlstate;
};
LibpqText libpq_text(char const* message);

// What DbError::sqlstate holds for a connection whose settings libpq could not read (not a
// SQLSTATE: the server was never asked).
inline constexpr char const k_sqlstate_bad_conninfo[] = "conninfo";

// Why a failed connection cannot succeed until pezd's database settings (or the server's
// accounts) are changed: no such database or role, authentication or TLS verification failed,
// settings libpq cannot read. Nothing for failures that may pass (the server is down,
// starting, full, unreachable). A short reason without names or paths, for clients.
std::optional<std::string> misconfiguration(DbError const& error);

}  // namespace pez::daemon
