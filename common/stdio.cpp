// SPDX-License-Identifier: Apache-2.0
#include "common/stdio.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pez {

StandardDescriptors ensure_standard_descriptors() {
  StandardDescriptors result;
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    result.was_closed[static_cast<std::size_t>(fd)] = true;
    // open() takes the lowest free descriptor: this one, since those below it are open.
    int const opened = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (opened != fd) {
      if (opened >= 0) ::close(opened);
      result.ok = false;
      return result;
    }
  }
  return result;
}

std::expected<void, std::string> write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    return std::unexpected(std::string(std::strerror(errno)));
  }
  return {};
}

}  // namespace pez
