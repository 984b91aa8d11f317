// SPDX-License-Identifier: Apache-2.0
// The Unix socket's file: made at a path (mode 0660 from the start, its group a setting, the file
// left by a pezd that crashed replaced, another pezd's left alone), or adopted from systemd.
#pragma once

#include <sys/types.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <expected>
#include <string>

namespace pez::daemon {

using SocketAcceptor = boost::asio::local::stream_protocol::acceptor;

// A socket file this pezd made; removed when pezd stops, if it is still the same file.
struct SocketFile {
  std::string path;
  ino_t inode = 0;
};

// Makes acceptor listen on a new socket file at path, given to group when it is not empty.
std::expected<SocketFile, std::string> make_socket_file(SocketAcceptor& acceptor, std::string const& path,
                                                        std::string const& group);

// Makes acceptor serve fd, a listening socket made by someone else (systemd's pezd.socket).
// Returns the socket's path.
std::expected<std::string, std::string> adopt_socket(SocketAcceptor& acceptor, int fd);

// Removes the file, unless another took its place meanwhile; forgets it either way.
void remove_socket_file(SocketFile& file);

}  // namespace pez::daemon
