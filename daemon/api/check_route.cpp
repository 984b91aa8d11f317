// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/check_route.hpp"

#include "common/text.hpp"
#include "daemon/api/check.hpp"

namespace pez::daemon {

Reply check_reply(CheckValue const& check, AllocateResult const& found) {
  // The verdict comes from the template alone.
  if (!found) return failure_reply(found.error());
  auto verdict = check_value(check.name, found->printing.format.get(), check.value);
  if (!verdict) return failure_reply(verdict.error());
  std::string body =
      verdict->valid ? "{\"valid\": true}\n" : "{\"valid\": false, \"reason\": " + json_string(verdict->reason) + "}\n";
  return Reply{200, std::move(body)};
}

}  // namespace pez::daemon
