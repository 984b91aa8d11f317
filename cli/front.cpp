// SPDX-License-Identifier: Apache-2.0
// pez: takes unique numbers from pezd. See pez(1).
//
// Shell scripts run pez once per number, so this program is small: it takes the numbers of a
// plain forward, reverse or next command line itself (take.cpp), and gives every other command
// line, unchanged, to the whole of pez (pez-cli, which replaces this process).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/take.hpp"

namespace {

// Started with 0, 1 or 2 closed, pez must say so before it opens anything: the whole pez does.
bool standard_descriptors_open() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) == -1) return false;
  }
  return true;
}

// The whole pez: beside this program (in a build tree), or where it was installed.
std::string whole_pez() {
  std::string self(4096, '\0');
  if (auto const n = readlink("/proc/self/exe", self.data(), self.size()); n > 0) {
    self.resize(static_cast<std::size_t>(n));
    self.resize(self.rfind('/') + 1);
    self += "pez-cli";
    if (access(self.c_str(), X_OK) == 0) return self;
  }
  return PEZ_CLI_PATH;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pez::cli;
  if (standard_descriptors_open()) {
    if (auto take = parse_plain_take(argc, argv)) return report(take_numbers(take->globals, take->options));
  }
  auto const path = whole_pez();
  execv(path.c_str(), argv);
  std::fprintf(stderr, "pez: error: cannot run %s, the rest of pez: %s (reinstall pez)\n", path.c_str(),
               std::strerror(errno));
  return pez::k_exit_failure;
}
