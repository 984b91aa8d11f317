// SPDX-License-Identifier: Apache-2.0
// pezd migrate (DESIGN §6): the schema migrations of sql/, built into pezd, applied as the role
// it connects with; then it exits. Idempotent, and safe when two run at once (each file takes an
// advisory lock and creates only what is missing).
#pragma once

#include "daemon/config/config.hpp"

namespace pez::daemon {

// Prints what it did on stdout, or one error line on stderr; answers the exit code: 0 done, 69
// the database cannot be reached, 77 the role may not, 1 anything else.
int migrate_schema(Config const& config);

}  // namespace pez::daemon
