// SPDX-License-Identifier: Apache-2.0
// Who is at the other end of the Unix socket, as the kernel recorded it when it connected
// (SO_PEERCRED, SO_PEERGROUPS), and whether it may administer sequences (pezd(8)).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace pez::daemon {

class SocketPeer {
 public:
  using Groups = std::expected<std::vector<gid_t>, std::string>;
  // Reads the supplementary groups of the peer on socket fd.
  using GroupsReader = Groups (*)(int fd);

  // The peer of a connected socket; admin_gid is the setting admin_group.
  static SocketPeer of_socket(int fd, std::optional<gid_t> admin_gid);

  // cred: the peer's credentials, if they could be read; own_uid: pezd's own user.
  SocketPeer(std::optional<ucred> cred, uid_t own_uid, std::optional<gid_t> admin_gid, int fd = -1,
             GroupsReader groups = &read_peer_groups);

  // "uid 1000 pid 42", or "unknown peer": how the log names it.
  std::string describe() const;

  // Root, pezd's own user and peers holding admin_group may administer. The groups are the peer
  // process's own: a process that dropped the group is not admin, and one holding it is, whatever
  // the user database says. Asked once and remembered (the groups cost a system call).
  bool may_administer();

  static Groups read_peer_groups(int fd);

 private:
  bool decide() const;

  std::optional<ucred> m_cred;
  uid_t m_own_uid;
  std::optional<gid_t> m_admin_gid;
  int m_fd;
  GroupsReader m_groups;
  std::optional<bool> m_admin;
};

}  // namespace pez::daemon
