// SPDX-License-Identifier: Apache-2.0
// pez as a whole: parse the command line, run the chosen command, map failures to exit codes.
#pragma once

namespace pez::cli {

int cli_main(int argc, char** argv);

}  // namespace pez::cli
