// SPDX-License-Identifier: Apache-2.0
// The answer to GET /v1/NAME/check?value=V (router.hpp's CheckValue), from what the catalog said
// of the sequence (a count of 0 asked of it).
#pragma once

#include "daemon/alloc/allocator.hpp"
#include "daemon/api/router.hpp"

namespace pez::daemon {

// 200 {"valid": true} or {"valid": false, "reason": ...}; 404 when the sequence does not exist,
// 400 when it has no format (its numbers carry no check characters), 503 when the database
// cannot say. found: the catalog's answer, its error already classified.
Reply check_reply(CheckValue const& check, AllocateResult const& found);

}  // namespace pez::daemon
