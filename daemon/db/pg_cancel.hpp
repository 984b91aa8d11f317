// SPDX-License-Identifier: Apache-2.0
// Cancelling a statement that took too long, and closing its connection, off the event loop.
#pragma once

#include <libpq-fe.h>

namespace pez::daemon {

// Asks the server to cancel the statement running on conn, then closes conn, on a thread of its
// own (PQcancel opens a connection and waits for the server). True when conn was taken so; false
// when it cannot be (too many cancels on their way, or no cancel object), and conn stays the
// caller's. The caller's notice receiver must not outlive it: conn gets a silent one.
bool cancel_and_finish(PGconn* conn);

}  // namespace pez::daemon
