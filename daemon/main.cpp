// SPDX-License-Identifier: Apache-2.0
// pezd: hands out unique numbers from PostgreSQL sequences. See pezd(8).
#include "daemon/daemon.hpp"

int main(int argc, char** argv) { return pez::daemon::daemon_main(argc, argv); }
