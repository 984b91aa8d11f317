// SPDX-License-Identifier: Apache-2.0
// What the HTTP router's answers say, for its unit tests.
#pragma once

#include <string>

#include "daemon/api/http_request.hpp"
#include "daemon/api/router.hpp"

namespace pez::test {

// The body an answer is sent with, without a request id.
inline std::string body_of(daemon::Reply const& reply) { return daemon::reply_body(reply, {}); }

}  // namespace pez::test
