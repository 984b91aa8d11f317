// SPDX-License-Identifier: Apache-2.0
// pez-bench-pipe: numbers per second through ONE connection with requests pipelined, over the
// Unix socket (NEXT lines) or HTTP (GET /v2/NAME?count=N). Used by tests/bench/run.
//
//   pez-bench-pipe unix PATH | http HOST:PORT  [--name forward] [--count 100] [--window 64] [--seconds 5]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int die(char const* what) {
  std::fprintf(stderr, "pez-bench-pipe: %s: %s\n", what, std::strerror(errno));
  return 1;
}

int connect_unix(std::string const& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  return fd;
}

int connect_tcp(std::string const& where) {
  auto colon = where.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(where.c_str() + colon + 1)));
  if (::inet_pton(AF_INET, where.substr(0, colon).c_str(), &addr.sin_addr) != 1) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: pez-bench-pipe unix PATH | http HOST:PORT [--name N] [--count C] [--window W] [--seconds S]\n");
    return 64;
  }
  std::string const kind = argv[1];
  std::string const where = argv[2];
  std::string name = "forward";
  int count = 100;
  int window = 64;
  double seconds = 5;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string const flag = argv[i];
    if (flag == "--name") name = argv[i + 1];
    else if (flag == "--count") count = std::atoi(argv[i + 1]);
    else if (flag == "--window") window = std::atoi(argv[i + 1]);
    else if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
  }
  bool const http = kind == "http";
  int const fd = http ? connect_tcp(where) : connect_unix(where);
  if (fd < 0) return die("connect");
  timeval patience{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);

  std::string const request =
      http ? "GET /v2/" + name + "?count=" + std::to_string(count) + " HTTP/1.1\r\nHost: bench\r\n\r\n"
           : "NEXT " + name + " " + std::to_string(count) + "\n";
  std::string in;
  long long numbers = 0;
  long long answers = 0;
  long long errors = 0;
  int outstanding = 0;
  auto const start = std::chrono::steady_clock::now();
  auto const end = start + std::chrono::duration<double>(seconds);
  bool sending = true;
  char buf[65536];
  while (sending || outstanding > 0) {
    if (sending && std::chrono::steady_clock::now() >= end) {
      sending = false;
      if (outstanding == 0) break;  // every answer is in: waiting would block for nothing
    }
    if (sending && outstanding < window) {
      std::string out;
      while (outstanding < window) {
        out += request;
        ++outstanding;
      }
      if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) return die("send");
    }
    auto const n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::fprintf(stderr, "pez-bench-pipe: no answer for 10s with %d requests outstanding (%lld answered)\n",
                   outstanding, answers);
      return 1;
    }
    if (n == 0) {
      std::fprintf(stderr, "pez-bench-pipe: the server closed the connection with %d requests outstanding\n",
                   outstanding);
      return 1;
    }
    if (n < 0) return die("recv");
    in.append(buf, static_cast<std::size_t>(n));
    std::size_t pos = 0;
    for (;;) {
      if (http) {
        auto const head_end = in.find("\r\n\r\n", pos);
        if (head_end == std::string::npos) break;
        auto const cl = in.find("Content-Length: ", pos);
        if (cl == std::string::npos || cl > head_end) return die("response without Content-Length");
        auto const length = std::strtoul(in.c_str() + cl + 16, nullptr, 10);
        auto const body = head_end + 4;
        if (in.size() < body + length) break;
        if (in.compare(pos, 12, "HTTP/1.1 200") == 0) {
          long long commas = 0;
          for (std::size_t i = body; i < body + length; ++i) commas += in[i] == ',';
          numbers += commas + 1;
        } else {
          ++errors;
        }
        pos = body + length;
      } else {
        auto const nl = in.find('\n', pos);
        if (nl == std::string::npos) break;
        if (in.compare(pos, 3, "OK ") == 0) {
          long long spaces = 0;
          for (std::size_t i = pos; i < nl; ++i) spaces += in[i] == ' ';
          numbers += spaces;
        } else {
          ++errors;
        }
        pos = nl + 1;
      }
      ++answers;
      --outstanding;
    }
    in.erase(0, pos);
  }
  double const took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"numbers_per_second\": %.0f, \"answers_per_second\": %.0f, \"errors\": %lld}\n", numbers / took,
              answers / took, errors);
  ::close(fd);
  return errors > 0 ? 1 : 0;
}
