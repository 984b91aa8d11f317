// SPDX-License-Identifier: Apache-2.0
#include "common/stdio.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace pez
