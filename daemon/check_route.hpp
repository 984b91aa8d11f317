// SPDX-License-Identifier: Apache-2.0
// The answer to GET /v1/NAME/check?value=V (router.hpp's CheckValue), in one function that the
// HTTP sessions call.
#pragma once

#include <functional>

#include "daemon/router.hpp"

namespace pez::daemon {

class Context;

// Answers check on ctx's thread through done: 200 {"valid": true} or {"valid": false, "reason":
// ...}; 404 when the sequence does not exist, 400 when it has no format (its numbers carry no
// check characters), 503 when the database cannot say.
void answer_check(Context& ctx, CheckValue check, std::move_only_function<void(Reply)> done);

}  // namespace pez::daemon
