// SPDX-License-Identifier: Apache-2.0
// pez: takes unique numbers from pezd. See pez(1).
#include "cli/cli.hpp"

int main(int argc, char** argv) { return pez::cli::cli_main(argc, argv); }
