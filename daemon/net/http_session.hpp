// SPDX-License-Identifier: Apache-2.0
// An HTTP connection's session: frames HTTP/1.1 requests with Boost.Beast (keep-alive,
// pipelining, size and time limits), hands them to the router and writes the answers in request
// order; a connection at rest holds no read buffer.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace pez::daemon {

class Context;

// Runs a session for `socket` on `context`'s thread (called there). The connection must already
// be counted in context.http_open: the session takes that count off when it ends.
void start_http_session(boost::asio::ip::tcp::socket socket, Context& context);

}  // namespace pez::daemon
