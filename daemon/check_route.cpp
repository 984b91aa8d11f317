#include "daemon/check_route.hpp"

#include "common/text.hpp"
#include "daemon/context.hpp"

namespace pez::daemon {

void answer_check(Context& ctx, CheckValue check, std::move_only_function<void(Reply)> done) {
  // Whether the sequence exists is the catalog's to say: a count of 0 asks it, takes nothing.
  std::string const name = check.name;
  ctx.allocate(name, 0, [&ctx, name, done = std::move(done)](AllocateResult result) mutable {
    if (!result) {
      done(failure_reply(ctx.core ? ctx.shared.classified(result.error()) : result.error()));
      return;
    }
    done(error_reply(409, "sequence " + quote_untrusted(name) +
                              " has no format, so its numbers carry no check characters; only a formatted sequence "
                              "(pez admin create NAME --format TEMPLATE --check luhn) can be checked"));
  });
}

}  // namespace pez::daemon
