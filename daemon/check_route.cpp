// SPDX-License-Identifier: Apache-2.0
#include "daemon/check_route.hpp"

#include "common/text.hpp"
#include "daemon/check.hpp"
#include "daemon/context.hpp"

namespace pez::daemon {

void answer_check(Context& ctx, CheckValue check, std::move_only_function<void(Reply)> done) {
  // Whether the sequence exists, and its format, are the catalog's to say: a count of 0 asks it
  // and takes nothing. The verdict comes from the template alone.
  std::string const name = check.name;
  ctx.allocate(
      name, 0, [&ctx, name, value = std::move(check.value), done = std::move(done)](AllocateResult result) mutable {
        if (!result) {
          done(failure_reply(ctx.core ? ctx.shared.classified(result.error()) : result.error()));
          return;
        }
        auto verdict = check_value(name, result->printing.format.get(), value);
        if (!verdict) {
          done(failure_reply(verdict.error()));
          return;
        }
        std::string body = verdict->valid ? "{\"valid\": true}\n"
                                          : "{\"valid\": false, \"reason\": " + json_string(verdict->reason) + "}\n";
        done(Reply{200, std::move(body)});
      });
}

}  // namespace pez::daemon
