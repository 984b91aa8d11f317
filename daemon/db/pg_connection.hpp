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
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/db/db_error.hpp"

namespace pez::daemon {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;
using PgResults = std::vector<PgResult>;

// The server's words of an error or notice result, in whatever language it speaks (server_words).
std::string result_words(PGresult const* result);
// The error a statement's result holds, classified by its SQLSTATE (statement_error).
DbError result_error(PGresult const* result);

// libpq keywords and values, in order (see PQconnectStartParams).
using ConnParams = std::vector<std::pair<std::string, std::string>>;

// How long a connection or a statement may take, and the setting that says so: a message about
// one that took longer names it.
struct TimeLimit {
  std::chrono::steady_clock::duration after;
  std::string_view setting;  // a string literal
};

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
  void connect(ConnParams const& params, TimeLimit limit, ConnectHandler handler);

  // Runs a simple-protocol query string (it may hold several statements).
  void exec(std::string const& sql, TimeLimit limit, ResultHandler handler);
  // Runs one statement with text parameters.
  void exec_params(std::string const& sql, std::span<char const* const> params, TimeLimit limit, ResultHandler handler);

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
  void start(std::function<int(PGconn*)> const& send, TimeLimit limit, ResultHandler handler);
  void flush();
  void wait_readable();
  void on_readable();
  void collect();
  // Hands queued notifications to on_notify; false if the connection was closed meanwhile.
  bool deliver_notifications();
  void finish();
  void fail(DbError error);
  // Asks the server to stop the statement running (one that took too long) and closes the
  // connection, in the background; when it cannot, the connection is left as it is.
  void cancel_and_close();
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
  TimeLimit m_connect_limit{};
  ResultHandler m_pending;
  PgResults m_results;
  std::optional<DbError> m_error;
  std::string m_warning;
  std::string m_fatal;  // a FATAL notice the server sent before it closed an idle connection
  LostHandler m_on_lost;
  NotifyHandler m_on_notify;
};

}  // namespace pez::daemon
