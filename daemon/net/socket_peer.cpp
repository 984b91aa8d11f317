// SPDX-License-Identifier: Apache-2.0
#include "daemon/net/socket_peer.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pez::daemon {

SocketPeer SocketPeer::of_socket(int fd, std::optional<gid_t> admin_gid) {
  ucred cred{};
  socklen_t len = sizeof cred;
  std::optional<ucred> known;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) known = cred;
  return SocketPeer(known, ::geteuid(), admin_gid, fd);
}

SocketPeer::SocketPeer(std::optional<ucred> cred, uid_t own_uid, std::optional<gid_t> admin_gid, int fd,
                       GroupsReader groups)
    : m_cred(cred), m_own_uid(own_uid), m_admin_gid(admin_gid), m_fd(fd), m_groups(groups) {}

std::string SocketPeer::describe() const {
  if (!m_cred) return "unknown peer";
  return "uid " + std::to_string(m_cred->uid) + " pid " + std::to_string(m_cred->pid);
}

bool SocketPeer::may_administer() {
  if (!m_admin) m_admin = decide();
  return *m_admin;
}

bool SocketPeer::decide() const {
  if (!m_cred) return false;
  if (m_cred->uid == 0 || m_cred->uid == m_own_uid) return true;
  if (!m_admin_gid) return false;
  if (m_cred->gid == *m_admin_gid) return true;
  auto groups = m_groups(m_fd);
  if (!groups) {
    spdlog::warn(
        "socket {}: cannot read the peer's groups (SO_PEERGROUPS, Linux 4.13 or later): {}; only root "
        "and pezd's own user may administer",
        describe(), groups.error());
    return false;
  }
  return std::ranges::find(*groups, *m_admin_gid) != groups->end();
}

SocketPeer::Groups SocketPeer::read_peer_groups(int fd) {
  std::vector<gid_t> groups(32);
  // The kernel says how much room it needs; the list cannot grow, so the second try fits.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) return std::unexpected(std::string(std::strerror(errno)));
    groups.resize(std::max<std::size_t>(len / sizeof(gid_t), groups.size() * 2));
  }
  return std::unexpected(std::string("the list of groups kept growing"));
}

}  // namespace pez::daemon
