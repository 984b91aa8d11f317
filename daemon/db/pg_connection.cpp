// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/pg_connection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <cstring>
#include <utility>

#include "common/settings.hpp"
#include "daemon/db/pg_cancel.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
using posix_descriptor = asio::posix::stream_descriptor;

namespace {

// "2s (connect_timeout)"
std::string describe(TimeLimit limit) {
  return settings::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(limit.after)) + " (" +
         std::string(limit.setting) + ")";
}

DbError lost(std::string message) { return DbError{DbError::Kind::lost, std::move(message), {}, {}}; }
DbError timed_out(std::string message) { return DbError{DbError::Kind::timeout, std::move(message), {}, {}}; }

}  // namespace

std::string result_words(PGresult const* result) {
  return server_words(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY),
                      PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL),
                      PQresultErrorField(result, PG_DIAG_MESSAGE_HINT), PQresultErrorMessage(result));
}

DbError result_error(PGresult const* result) {
  char const* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return statement_error(state ? state : "", result_words(result));
}

std::shared_ptr<PgConnection> PgConnection::create(asio::io_context& io) {
  return std::shared_ptr<PgConnection>(new PgConnection(io));
}

PgConnection::PgConnection(asio::io_context& io) : m_io(io), m_socket(io), m_deadline(io) {}

PgConnection::~PgConnection() {
  ++m_epoch;
  if (m_socket.is_open()) m_socket.release();
  if (m_conn) PQfinish(m_conn);
}

void PgConnection::connect(ConnParams const& params, TimeLimit limit, ConnectHandler handler) {
  close();
  m_connect_limit = limit;
  std::vector<char const*> keys;
  std::vector<char const*> values;
  for (auto const& [key, value] : params) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  m_connect_handler = std::move(handler);
  m_conn = PQconnectStartParams(keys.data(), values.data(), 1);
  if (m_conn == nullptr) {
    fail(lost("out of memory starting a database connection"));
    return;
  }
  if (PQstatus(m_conn) == CONNECTION_BAD) {
    // Settings libpq cannot read fail here, and so may a first host that refuses at once.
    auto text = libpq_text(PQerrorMessage(m_conn)).text;
    fail(unreadable_conninfo(text) ? conninfo_error(std::move(text)) : lost(std::move(text)));
    return;
  }
  PQsetNoticeReceiver(m_conn, &PgConnection::notice_receiver, this);
  // Until the connection is up: a refusal then carries its SQLSTATE (libpq gives no other way).
  PQsetErrorVerbosity(m_conn, PQERRORS_VERBOSE);

  m_deadline.expires_after(limit.after);
  m_deadline.async_wait([self = shared_from_this(), epoch = m_epoch, limit](boost::system::error_code ec) {
    if (ec || epoch != self->m_epoch || !self->m_connect_handler) return;
    self->fail(timed_out("could not connect to the database within " + describe(limit)));
  });
  wait_connect(PGRES_POLLING_WRITING);
}

void PgConnection::reset_socket() {
  ++m_epoch;
  m_reading = false;
  m_writing = false;
  if (m_socket.is_open()) m_socket.release();
}

void PgConnection::wait_connect(PostgresPollingStatusType want) {
  // libpq may switch to a new socket while connecting (another host, a retry without SSL),
  // possibly with the same number, so the descriptor is registered afresh at every step.
  reset_socket();
  int const fd = PQsocket(m_conn);
  if (fd < 0) {
    fail(lost(libpq_text(PQerrorMessage(m_conn)).text));
    return;
  }
  boost::system::error_code ec;
  m_socket.assign(fd, ec);
  if (ec) {
    fail(lost("cannot watch the database socket: " + ec.message()));
    return;
  }
  auto const type = want == PGRES_POLLING_READING ? posix_descriptor::wait_read : posix_descriptor::wait_write;
  m_socket.async_wait(type, [self = shared_from_this(), epoch = m_epoch](boost::system::error_code wait_ec) {
    if (epoch != self->m_epoch) return;
    if (wait_ec) {
      self->fail(lost("waiting for the database socket failed: " + wait_ec.message()));
      return;
    }
    self->on_connect_ready();
  });
}

void PgConnection::on_connect_ready() {
  switch (PQconnectPoll(m_conn)) {
    case PGRES_POLLING_OK: {
      PQsetErrorVerbosity(m_conn, PQERRORS_DEFAULT);
      if (PQsetnonblocking(m_conn, 1) != 0) {
        fail(lost(libpq_text(PQerrorMessage(m_conn)).text));
        return;
      }
      m_connected = true;
      m_deadline.cancel();
      auto handler = std::move(m_connect_handler);
      m_connect_handler = nullptr;
      wait_readable();
      if (char const* encoding = PQparameterStatus(m_conn, "server_encoding");
          encoding != nullptr && std::strcmp(encoding, "SQL_ASCII") == 0) {
        // A SQL_ASCII database checks no text: a row written by hand may hold any bytes, and a
        // server asked for UTF8 refuses a whole statement for one of them (22021), the read of
        // the catalog among them, so that one garbled format would stop every sequence. The
        // bytes come as they are stored instead; pezd makes what it passes on valid UTF-8.
        exec("SET client_encoding TO 'SQL_ASCII'", m_connect_limit,
             [handler = std::move(handler)](std::expected<PgResults, DbError> set) mutable {
               if (set) {
                 handler({});
               } else {
                 handler(std::unexpected(std::move(set.error())));
               }
             });
        return;
      }
      handler({});
      return;
    }
    case PGRES_POLLING_READING:
      wait_connect(PGRES_POLLING_READING);
      return;
    case PGRES_POLLING_WRITING:
      wait_connect(PGRES_POLLING_WRITING);
      return;
    default: {
      // The server's SQLSTATE of a refusal (PQERRORS_VERBOSE), to tell wrong settings from an
      // outage (fail() classifies it, connect_error()).
      auto failure = libpq_text(PQerrorMessage(m_conn));
      fail(DbError{DbError::Kind::lost, std::move(failure.text), std::move(failure.sqlstate), {}});
      return;
    }
  }
}

void PgConnection::exec(std::string const& sql, TimeLimit limit, ResultHandler handler) {
  start([&sql](PGconn* conn) { return PQsendQuery(conn, sql.c_str()); }, limit, std::move(handler));
}

void PgConnection::exec_params(std::string const& sql, std::span<char const* const> params, TimeLimit limit,
                               ResultHandler handler) {
  start(
      [&](PGconn* conn) {
        return PQsendQueryParams(conn, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                                 nullptr, 0);
      },
      limit, std::move(handler));
}

void PgConnection::start(std::function<int(PGconn*)> const& send, TimeLimit limit, ResultHandler handler) {
  if (!is_open() || busy()) {
    auto const message =
        is_open() ? "a statement is already running on this connection" : "the database connection is not open";
    asio::post(m_io, [h = std::move(handler), message]() mutable { h(std::unexpected(lost(message))); });
    return;
  }
  m_pending = std::move(handler);
  m_results.clear();
  m_error.reset();
  m_warning.clear();
  if (send(m_conn) == 0) {
    fail(lost(libpq_text(PQerrorMessage(m_conn)).text));
    return;
  }
  m_deadline.expires_after(limit.after);
  m_deadline.async_wait([self = shared_from_this(), epoch = m_epoch, limit](boost::system::error_code ec) {
    if (ec || epoch != self->m_epoch || !self->m_pending) return;
    self->cancel_and_close();
    self->fail(timed_out("the database did not answer within " + describe(limit)));
  });
  flush();
  if (is_open()) wait_readable();
}

void PgConnection::flush() {
  int const rc = PQflush(m_conn);
  if (rc < 0) {
    fail(lost(libpq_text(PQerrorMessage(m_conn)).text));
    return;
  }
  if (rc == 0 || m_writing) return;
  m_writing = true;
  m_socket.async_wait(posix_descriptor::wait_write,
                      [self = shared_from_this(), epoch = m_epoch](boost::system::error_code ec) {
                        if (epoch != self->m_epoch) return;
                        self->m_writing = false;
                        if (ec) {
                          self->fail(lost("writing to the database failed: " + ec.message()));
                          return;
                        }
                        self->flush();
                      });
}

void PgConnection::wait_readable() {
  if (m_reading) return;
  m_reading = true;
  m_socket.async_wait(posix_descriptor::wait_read,
                      [self = shared_from_this(), epoch = m_epoch](boost::system::error_code ec) {
                        if (epoch != self->m_epoch) return;
                        self->m_reading = false;
                        if (ec) {
                          self->fail(lost("reading from the database failed: " + ec.message()));
                          return;
                        }
                        self->on_readable();
                      });
}

void PgConnection::on_readable() {
  if (PQconsumeInput(m_conn) == 0) {
    fail(lost(libpq_text(PQerrorMessage(m_conn)).text));
    return;
  }
  auto const epoch = m_epoch;
  if (!deliver_notifications()) return;
  if (m_pending) {
    collect();
    // Results and notifications may come in one read: those parsed with the results too.
    if (epoch != m_epoch || !deliver_notifications()) return;
  } else if (PQstatus(m_conn) == CONNECTION_BAD) {
    fail(lost(libpq_text(PQerrorMessage(m_conn)).text));
    return;
  }
  if (epoch != m_epoch || !is_open()) return;
  if (m_pending && !m_writing && PQisnonblocking(m_conn)) flush();
  if (is_open()) wait_readable();
}

bool PgConnection::deliver_notifications() {
  auto const epoch = m_epoch;
  while (m_conn != nullptr) {
    PGnotify* notify = PQnotifies(m_conn);
    if (notify == nullptr) break;
    std::string const channel = notify->relname;
    std::string const payload = notify->extra ? notify->extra : "";
    PQfreemem(notify);
    if (m_on_notify) m_on_notify(channel, payload);
    if (epoch != m_epoch) return false;
  }
  return true;
}

void PgConnection::collect() {
  while (m_pending && PQisBusy(m_conn) == 0) {
    PgResult result(PQgetResult(m_conn));
    if (!result) {
      finish();
      return;
    }
    switch (PQresultStatus(result.get())) {
      case PGRES_FATAL_ERROR:
      case PGRES_NONFATAL_ERROR:
      case PGRES_BAD_RESPONSE:
        if (!m_error) {
          m_error = result_error(result.get());
        }
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        fail(lost("the database started a COPY that pezd never asked for"));
        return;
      default:
        m_results.push_back(std::move(result));
    }
  }
}

void PgConnection::finish() {
  auto handler = std::move(m_pending);
  m_pending = nullptr;
  m_deadline.cancel();
  if (PQstatus(m_conn) == CONNECTION_BAD) {
    auto message = m_error ? m_error->message : libpq_text(PQerrorMessage(m_conn)).text;
    m_pending = std::move(handler);
    fail(lost(std::move(message)));
    return;
  }
  if (m_error) {
    handler(std::unexpected(std::move(*m_error)));
  } else if (!m_warning.empty()) {
    // A statement that drew a warning (such as a cancelled wait for synchronous replication)
    // is not trusted: whatever it produced is thrown away.
    handler(std::unexpected(warning_error(m_warning)));
  } else {
    handler(std::move(m_results));
  }
}

void PgConnection::fail(DbError error) {
  if (!m_fatal.empty()) error.message = m_fatal + " (" + error.message + ")";
  m_fatal.clear();
  auto connect_handler = std::move(m_connect_handler);
  m_connect_handler = nullptr;
  // An attempt to connect that failed: wrong settings are told from an outage, by the whole text.
  if (connect_handler && error.kind == DbError::Kind::lost) {
    error = connect_error(std::move(error.message), std::move(error.sqlstate));
  }
  auto pending = std::move(m_pending);
  m_pending = nullptr;
  bool const was_connected = m_connected;
  close();
  if (connect_handler) {
    asio::post(m_io, [h = std::move(connect_handler), error]() mutable { h(std::unexpected(error)); });
  } else if (pending) {
    asio::post(m_io, [h = std::move(pending), error]() mutable { h(std::unexpected(error)); });
  } else if (was_connected && m_on_lost) {
    asio::post(m_io, [h = m_on_lost, error]() { h(error); });
  }
}

void PgConnection::cancel_and_close() {
  // The server goes on with a statement whose connection is closed until it next reads from or
  // writes to it: one waiting for a lock keeps the locks it took before it (of the other
  // sequences of a statement of several) until that lock is free. So it is asked to stop, as
  // psql's Ctrl-C does, before the connection is closed (a pooler passes a cancel on only while
  // its client is connected).
  if (m_conn == nullptr) return;
  // Asio forgets the socket first: once taken, only the cancelling thread uses the connection.
  bool const open = m_socket.is_open();
  auto const fd = open ? m_socket.release() : -1;
  if (cancel_and_finish(m_conn)) {
    m_conn = nullptr;
  } else if (open) {
    m_socket.assign(fd);
  }
}

void PgConnection::close() {
  ++m_epoch;
  m_deadline.cancel();
  m_reading = false;
  m_writing = false;
  if (m_socket.is_open()) m_socket.release();
  if (m_conn) {
    PQfinish(m_conn);
    m_conn = nullptr;
  }
  m_connected = false;
  // Handlers may hold this connection: they go to the event loop, never destroyed in here.
  auto connect_handler = std::move(m_connect_handler);
  m_connect_handler = nullptr;
  if (connect_handler) {
    asio::post(m_io, [h = std::move(connect_handler)]() mutable {
      h(std::unexpected(lost("the database connection was closed by pezd")));
    });
  }
  auto pending = std::move(m_pending);
  m_pending = nullptr;
  if (pending) {
    asio::post(m_io, [h = std::move(pending)]() mutable {
      h(std::unexpected(lost("the database connection was closed by pezd")));
    });
  }
}

std::string PgConnection::server() const {
  if (!m_conn) return "(not connected)";
  std::string host = PQhost(m_conn) ? PQhost(m_conn) : "";
  std::string port = PQport(m_conn) ? PQport(m_conn) : "";
  if (!host.empty() && host.front() == '/') return host + "/.s.PGSQL." + port;
  return host + ":" + port;
}

std::string PgConnection::user() const {
  char const* user = m_conn ? PQuser(m_conn) : nullptr;
  return user ? user : "";
}

void PgConnection::notice_receiver(void* arg, PGresult const* result) {
  auto* self = static_cast<PgConnection*>(arg);
  char const* severity = PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
  auto const message = result_words(result);
  if (severity && std::strcmp(severity, "WARNING") == 0) {
    spdlog::warn("database {}: {}", self->server(), message);
    if (self->m_pending && self->m_warning.empty()) self->m_warning = message;
  } else if (severity && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
    self->m_fatal = message;
  } else {
    spdlog::debug("database {}: {}", self->server(), message);
  }
}

}  // namespace pez::daemon
