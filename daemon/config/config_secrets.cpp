// SPDX-License-Identifier: Apache-2.0
// The files that hold a secret (a database password, the HTTP admin token) and the systemd
// credential db-password: how each is read and checked.
#include "daemon/config/config.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace pez::daemon {
namespace {

// "pez (uid 998)", or "uid 54321" for a uid without a name.
std::string user_text(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> scratch(16384);
  if (getpwuid_r(uid, &pw, scratch.data(), scratch.size(), &found) == 0 && found != nullptr) {
    return std::string(pw.pw_name) + " (uid " + std::to_string(uid) + ")";
  }
  return "uid " + std::to_string(uid);
}

std::string user_name_or_uid(uid_t uid) {
  auto const text = user_text(uid);
  return text.starts_with("uid ") ? std::to_string(uid) : text.substr(0, text.find(' '));
}

constexpr std::size_t k_most_secret_line = 65536;

// What is wrong with a secret file whose first line is too long.
std::string first_line_too_long(std::string const& path, std::string const& advice) {
  return "the first line of " + path + " is longer than " + std::to_string(k_most_secret_line) + " bytes" + advice;
}

}  // namespace

std::string secret_from_text(std::string_view text, SecretKind kind) {
  auto line = text.substr(0, text.find('\n'));
  if (kind == SecretKind::token) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  } else if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  return std::string(line);
}

std::expected<void, std::string> check_token_file(std::string const& path, mode_t mode, uid_t owner, uid_t self) {
  if ((mode & 077) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    return std::unexpected(path + " has mode " + octal +
                           ", so users other than its owner may read or change the token; make it private to "
                           "pezd's user: chmod 600 " +
                           path);
  }
  if (owner != self && owner != 0) {
    if (self == 0) {
      return std::unexpected(path + " is owned by " + user_text(owner) +
                             ", not by root, whom pezd runs as; give it to root: chown root " + path);
    }
    return std::unexpected(path + " is owned by " + user_text(owner) + ", not by pezd's user " + user_text(self) +
                           " or root; give it to pezd's user: chown " + user_name_or_uid(self) + " " + path);
  }
  return {};
}

std::optional<std::expected<std::pair<std::string, std::string>, std::string>> credential_password(
    settings::EnvLookup const& env) {
  auto const dir = env("CREDENTIALS_DIRECTORY");
  if (!dir || dir->empty()) return std::nullopt;
  std::string const path = *dir + "/db-password";
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    return std::unexpected("cannot read the systemd credential db-password (" + path + "): " + std::strerror(errno));
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  // The packaged file is empty until a password is written into it: then there is none.
  return std::pair{path, line};
}

std::expected<std::string, std::string> read_secret_file(std::string const& path, SecretKind kind) {
  bool const token = kind == SecretKind::token;
  std::string const advice = token ? "; put a long random token on its first line, such as: openssl rand -hex 32"
                                   : "; write the password on its first line";
  int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int const err = errno;
    std::string const what_to_do =
        err == EACCES   ? "; pezd's user must be able to read it"
        : err == ENOENT ? (token ? "; create it, with a long random token on its first line (such as: openssl rand "
                                   "-hex 32), or correct the path"
                                 : "; create it, with the password on its first line, or correct the path")
                        : std::string();
    return std::unexpected("cannot read " + path + ": " + std::strerror(err) + what_to_do);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } const closer{fd};
  if (token) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
    if (auto ok = check_token_file(path, st.st_mode, st.st_uid, ::geteuid()); !ok) return std::unexpected(ok.error());
  }
  // Only the first line counts: read up to its end.
  std::string text;
  char chunk[4096];
  while (text.find('\n') == std::string::npos) {
    if (text.size() > k_most_secret_line) {
      return std::unexpected(first_line_too_long(path, advice));
    }
    auto const n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  auto secret = secret_from_text(text, kind);
  if (secret.empty()) {
    return std::unexpected(path +
                           (token ? " holds no token (its first line is empty or white space)"
                                  : " holds no password (its first line is empty)") +
                           advice);
  }
  if (token && secret.size() < k_least_token_length) {
    return std::unexpected(path + " holds a token of fewer than " + std::to_string(k_least_token_length) +
                           " characters" + advice);
  }
  return secret;
}

}  // namespace pez::daemon
