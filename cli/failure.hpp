// SPDX-License-Identifier: Apache-2.0
// How a pez command fails: an exit code from the table in common/errors.hpp and one line for
// the person at the terminal.
#pragma once

#include <expected>
#include <string>

#include "common/errors.hpp"

namespace pez::cli {

struct Failure {
  int exit_code;
  std::string message;
};

using Outcome = std::expected<void, Failure>;

inline Failure failure_from(Error const& error) { return Failure{errc_exit_code(error.code), error.message}; }

}  // namespace pez::cli
