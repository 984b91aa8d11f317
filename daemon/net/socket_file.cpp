// SPDX-License-Identifier: Apache-2.0
#include "daemon/net/socket_file.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <optional>

#include "daemon/config/config.hpp"

namespace pez::daemon {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Is something answering on this socket file? (A file left by a crashed pezd is not.)
bool someone_listens(std::string const& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool const listening = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return listening;
}

// Makes room at path: nothing there, or a socket file nobody answers on, which goes.
std::expected<void, std::string> clear_stale(std::string const& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    return std::unexpected(path + " exists and is not a socket; remove it or set socket to another path");
  }
  if (someone_listens(path)) {
    return std::unexpected("another pezd is already serving " + path + "; stop it first or set socket to another path");
  }
  if (::unlink(path.c_str()) != 0) {
    return std::unexpected("cannot remove the stale socket " + path + ": " + errno_text(errno));
  }
  spdlog::info("removed the stale socket {} (left by a pezd that did not stop cleanly)", path);
  return {};
}

}  // namespace

std::expected<SocketFile, std::string> make_socket_file(SocketAcceptor& acceptor, std::string const& path,
                                                        std::string const& group) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return std::unexpected("socket path " + path + " is longer than " +
                           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes; choose a shorter one");
  }
  std::optional<gid_t> gid;
  if (!group.empty()) {
    auto found = group_id(group);
    if (!found) return std::unexpected("invalid value for setting socket_group: " + found.error());
    gid = *found;
  }
  if (auto cleared = clear_stale(path); !cleared) return std::unexpected(cleared.error());

  boost::system::error_code ec;
  acceptor.open(stream(), ec);
  if (!ec) {
    // Created as 0660 from the start: no moment where others may connect.
    mode_t const old = ::umask(0117);
    acceptor.bind(stream::endpoint(path), ec);
    ::umask(old);
  }
  if (ec) {
    return std::unexpected("cannot create socket " + path + ": " + ec.message() +
                           " (does the directory exist and may pezd write to it?)");
  }
  if (::chmod(path.c_str(), 0660) != 0) {
    return std::unexpected("cannot set mode 0660 on socket " + path + ": " + errno_text(errno));
  }
  if (gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
    int const err = errno;
    ::unlink(path.c_str());
    return std::unexpected("cannot give socket " + path + " to group " + group + ": " + errno_text(err) +
                           " (pezd's user must be a member of that group)");
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on socket " + path + ": " + ec.message());
  SocketFile file{path, 0};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) file.inode = st.st_ino;
  return file;
}

std::expected<std::string, std::string> adopt_socket(SocketAcceptor& acceptor, int fd) {
  boost::system::error_code ec;
  acceptor.assign(stream(), fd, ec);
  if (ec) return std::unexpected("cannot use the socket systemd passed: " + ec.message());
  auto const local = acceptor.local_endpoint(ec);
  return ec ? std::string("(unnamed)") : local.path();
}

void remove_socket_file(SocketFile& file) {
  if (file.path.empty()) return;
  struct stat st {};
  if (::stat(file.path.c_str(), &st) == 0 && st.st_ino == file.inode) ::unlink(file.path.c_str());
  file = SocketFile{};
}

}  // namespace pez::daemon
