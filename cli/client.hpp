// SPDX-License-Identifier: Apache-2.0
// A connection to pezd's Unix socket: blocking, with a deadline (--timeout) for the connect,
// the send of the requests and every answer.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <vector>

#include "cli/failure.hpp"

namespace pez::cli {

class Client {
 public:
  Client(std::string path, std::chrono::milliseconds timeout) : m_path(std::move(path)), m_timeout(timeout) {}
  ~Client();
  Client(Client const&) = delete;
  Client& operator=(Client const&) = delete;

  // Connects and sends HELLO followed by the given request lines in one write; returns the
  // payload of each OK answer (the HELLO answer is checked and left out).
  std::expected<std::vector<std::string>, Failure> exchange(std::vector<std::string> const& lines);

 private:
  std::expected<void, Failure> connect();
  std::expected<void, Failure> send_all(std::string const& data);
  std::expected<std::string, Failure> read_line();

  std::string m_path;
  std::chrono::milliseconds m_timeout;
  int m_fd = -1;
  std::string m_buffer;
};

}  // namespace pez::cli
