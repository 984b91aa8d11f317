// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/config/config.hpp"
#include "env.hpp"

using pez::test::env_of;
using pez::test::load_pezd;

TEST_CASE("config: defaults") {
  auto inv = load_pezd({});
  REQUIRE(inv.has_value());
  CHECK(inv->config.socket_path == "/run/pez/pezd.sock");
  CHECK_FALSE(inv->config.http.has_value());
  CHECK(inv->config.max_count == 100);
  CHECK(inv->config.request_timeout == std::chrono::seconds(5));
}

TEST_CASE("config: each default is declared once: the table's default text gives what Config{} holds") {
  pez::daemon::Config probe;
  auto const count = pez::daemon::specs(probe).size();
  for (std::size_t i = 0; i < count; ++i) {
    pez::daemon::Config const expected;
    pez::daemon::Config applied;
    auto const table = pez::daemon::specs(applied);
    auto const& spec = table[i];
    CAPTURE(spec.key);
    CAPTURE(spec.default_text);
    if (spec.default_text.empty()) continue;  // unset: nothing to apply
    REQUIRE(spec.apply(spec.default_text));
    CHECK(applied == expected);
  }
  // threads = auto: one per CPU, 1 to 64.
  auto const cpus = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, 64U));
  CHECK(pez::daemon::Config{}.threads == cpus);
  auto inv = load_pezd({});
  REQUIRE(inv.has_value());
  CHECK(inv->config.threads == cpus);
}

TEST_CASE("config: the original service's environment names work") {
  auto inv = load_pezd({}, {{"PEZ_CONFIG", ""},
                            {"PEZ_DB_HOST", "db.example"},
                            {"PEZ_DB_PORT", "5433"},
                            {"PEZ_DB_NAME", "pez"},
                            {"PEZ_DB_USERNAME", "pezuser"},
                            {"PEZ_DB_PASSWORD", "secret"},
                            {"PEZ_MAX_COUNT", "250"},
                            {"PEZ_HTTP", "127.0.0.1:8000"}});
  REQUIRE(inv.has_value());
  auto const& c = inv->config;
  CHECK(c.max_count == 250);
  REQUIRE(c.http.has_value());
  CHECK(c.http->port == 8000);
  auto params = c.conn_params();
  std::map<std::string, std::string> map(params.begin(), params.end());
  CHECK(map["host"] == "db.example");
  CHECK(map["port"] == "5433");
  CHECK(map["dbname"] == "pez");
  CHECK(map["user"] == "pezuser");
  CHECK(map["password"] == "secret");
  // The server's words come in UTF-8, whatever the database's encoding; last, so that neither
  // database_url nor PGCLIENTENCODING asks for another.
  REQUIRE_FALSE(params.empty());
  CHECK(params.back() == std::pair<std::string, std::string>{"client_encoding", "UTF8"});
}

TEST_CASE("config: bad values stop pezd with a message naming the setting") {
  struct Case {
    std::map<std::string, std::string> env;
    char const* names;
  };
  for (auto const& c : std::vector<Case>{{{{"PEZ_MAX_COUNT", "0"}}, "max_count"},
                                         {{{"PEZ_MAX_COUNT", "many"}}, "max_count"},
                                         {{{"PEZ_HTTP", "8000"}}, "http"},
                                         {{{"PEZ_HTTP", "127.0.0.1:99999"}}, "http"},
                                         {{{"PEZ_MODE", "fast"}}, "mode"},
                                         {{{"PEZ_LOG_LEVEL", "loud"}}, "log_level"},
                                         {{{"PEZ_REQUEST_TIMEOUT", "soon"}}, "request_timeout"},
                                         {{{"PEZ_DB_PASSWORD_FILE", "/nonexistent/pw"}}, "db_password_file"}}) {
    auto env = c.env;
    env["PEZ_CONFIG"] = "";
    auto inv = load_pezd({}, env);
    CAPTURE(c.names);
    REQUIRE_FALSE(inv.has_value());
    CHECK(inv.error().message.find(c.names) != std::string::npos);
  }
  auto inv = load_pezd({"--max-count", "0"});
  REQUIRE_FALSE(inv.has_value());
  CHECK(inv.error().message.find("--max-count") != std::string::npos);
}

TEST_CASE("config: a command line pezd cannot read is a usage error, wrong settings a configuration error") {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    pez::Errc kind;
  };
  using pez::Errc;
  for (auto const& c : std::vector<Case>{
           {{"--no-such-option"}, {}, Errc::bad_request},
           {{"--db-password", "x"}, {}, Errc::bad_request},
           {{"--max-count"}, {}, Errc::bad_request},
           {{"stray"}, {}, Errc::bad_request},
           {{"--max-count", "0"}, {}, Errc::misconfigured},
           {{}, {{"PEZ_MODE", "fast"}}, Errc::misconfigured},
           {{"--config", "/nonexistent/pezd.conf"}, {}, Errc::misconfigured},
           {{"--socket", "off"}, {}, Errc::misconfigured},
           {{"--database-url", "postgresql://u:********@h/db"}, {}, Errc::misconfigured},
       }) {
    auto env = c.env;
    env.emplace("PEZ_CONFIG", "");
    auto inv = load_pezd(c.args, env);
    CAPTURE(c.args.empty() ? std::string() : c.args.front());
    REQUIRE_FALSE(inv.has_value());
    CAPTURE(inv.error().message);
    CHECK(inv.error().code == c.kind);
    // The command line's errors point at --help; pezd exits 64 (EX_USAGE) for them, 78 (EX_CONFIG)
    // for the settings.
    bool const usage = inv.error().message.ends_with(" (pezd --help lists the options)");
    CHECK(usage == (c.kind == Errc::bad_request));
    CHECK(pez::errc_exit_code(inv.error().code) == (usage ? pez::k_exit_usage : pez::k_exit_config));
  }
}

TEST_CASE("config: flags beat the environment, which beats the file") {
  char path[] = "/tmp/pez-config-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  { std::ofstream(path) << "# test\nmax_count = 10\nhttp = 127.0.0.1:9000\n"; }
  auto inv = load_pezd({}, {{"PEZ_CONFIG", path}});
  REQUIRE(inv.has_value());
  CHECK(inv->config.max_count == 10);
  inv = load_pezd({}, {{"PEZ_CONFIG", path}, {"PEZ_MAX_COUNT", "20"}});
  REQUIRE(inv.has_value());
  CHECK(inv->config.max_count == 20);
  inv = load_pezd({"--max-count", "30"}, {{"PEZ_CONFIG", path}, {"PEZ_MAX_COUNT", "20"}});
  REQUIRE(inv.has_value());
  CHECK(inv->config.max_count == 30);
  CHECK(inv->config.origins.at("http").where == std::string(path) + ":3");
  std::remove(path);

  auto missing = load_pezd({"--config", "/nonexistent/pezd.conf"});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("/nonexistent/pezd.conf") != std::string::npos);
}

TEST_CASE("config: the password has no flag") {
  auto inv = load_pezd({"--db-password", "x"});
  CHECK_FALSE(inv.has_value());
}

TEST_CASE("config: a database_url with the mask of --print-config in place of a secret is refused") {
  for (std::string const url : {"postgresql://u:********@h/db", "postgresql://h/db?sslpassword=********",
                                "host=h password=******** dbname=db", "host=h sslpassword=********"}) {
    CAPTURE(url);
    auto inv = load_pezd({"--database-url", url});
    REQUIRE_FALSE(inv.has_value());
    CHECK(inv.error().message.find("database_url") != std::string::npos);
    CHECK(inv.error().message.find("the mask pezd --print-config writes") != std::string::npos);
  }
  // A real password, or the mask's characters in another setting of the URL, are not.
  CHECK(load_pezd({"--database-url", "postgresql://u:secret@h/db"}).has_value());
  CHECK(load_pezd({"--database-url", "postgresql://u@h/db?application_name=********"}).has_value());
}

namespace {

// A file in /tmp holding text with the given mode, removed when it goes.
struct TempFile {
  std::string path;
  TempFile(std::string const& text, mode_t mode) {
    char name[] = "/tmp/pez-secret-test-XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path = name;
    std::ofstream(path, std::ios::binary) << text;
    REQUIRE(chmod(path.c_str(), mode) == 0);
  }
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("config: a secret is its file's first line; a token loses trailing white space") {
  using pez::daemon::secret_from_text;
  using pez::daemon::SecretKind;
  CHECK(secret_from_text("hunter2", SecretKind::password) == "hunter2");
  CHECK(secret_from_text("hunter2\n", SecretKind::password) == "hunter2");
  CHECK(secret_from_text("hunter2\r\n", SecretKind::password) == "hunter2");
  CHECK(secret_from_text("hunter2\nsecond line\n", SecretKind::password) == "hunter2");
  CHECK(secret_from_text("pass word  \n", SecretKind::password) == "pass word  ");  // spaces belong to it
  CHECK(secret_from_text("\nhunter2\n", SecretKind::password).empty());
  CHECK(secret_from_text("", SecretKind::password).empty());

  CHECK(secret_from_text("0123456789abcdef", SecretKind::token) == "0123456789abcdef");
  CHECK(secret_from_text("0123456789abcdef \t\r\n  \n", SecretKind::token) == "0123456789abcdef");
  CHECK(secret_from_text("0123456789abcdef\nother\n", SecretKind::token) == "0123456789abcdef");
  CHECK(secret_from_text(" \t\r\n", SecretKind::token).empty());
  CHECK(secret_from_text("\n0123456789abcdef\n", SecretKind::token).empty());
}

TEST_CASE("config: a token file is private to its owner, pezd's user or root") {
  using pez::daemon::check_token_file;
  uid_t const self = 998;
  for (mode_t mode : {0600, 0400, 0200, 0700}) {
    CAPTURE(mode);
    CHECK(check_token_file("/etc/pez/token", S_IFREG | mode, self, self).has_value());
    CHECK(check_token_file("/etc/pez/token", S_IFREG | mode, 0, self).has_value());
  }
  for (mode_t mode : {0640, 0644, 0604, 0620, 0602, 0610, 0601, 0660, 0666}) {
    CAPTURE(mode);
    auto refused = check_token_file("/etc/pez/token", S_IFREG | mode, self, self);
    REQUIRE_FALSE(refused.has_value());
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    CHECK(refused.error().find(std::string("/etc/pez/token has mode ") + octal) != std::string::npos);
    CHECK(refused.error().find("chmod 600 /etc/pez/token") != std::string::npos);
  }
  auto stranger = check_token_file("/etc/pez/token", S_IFREG | 0600, 54321, self);
  REQUIRE_FALSE(stranger.has_value());
  CHECK(stranger.error().find("owned by uid 54321") != std::string::npos);
  CHECK(stranger.error().find("chown ") != std::string::npos);
  auto as_root = check_token_file("/etc/pez/token", S_IFREG | 0600, 54321, 0);
  REQUIRE_FALSE(as_root.has_value());
  CHECK(as_root.error().find("chown root /etc/pez/token") != std::string::npos);
}

TEST_CASE("config: reading secret files") {
  using pez::daemon::read_secret_file;
  using pez::daemon::SecretKind;
  TempFile const token("0123456789abcdef  \r\n\nignored\n", 0600);
  CHECK(read_secret_file(token.path, SecretKind::token) == "0123456789abcdef");

  TempFile const shared("0123456789abcdef\n", 0640);
  auto refused = read_secret_file(shared.path, SecretKind::token);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().find(shared.path + " has mode 0640") != std::string::npos);
  // A password file may be shared with a group (root:pez 0640, as the packages suggest).
  CHECK(read_secret_file(shared.path, SecretKind::password) == "0123456789abcdef");

  TempFile const blank(" \t\n0123456789abcdef\n", 0600);
  auto empty = read_secret_file(blank.path, SecretKind::token);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().find("holds no token") != std::string::npos);
  CHECK(empty.error().find("openssl rand -hex 32") != std::string::npos);

  TempFile const short_token("0123456789abcde\n", 0600);
  auto too_short = read_secret_file(short_token.path, SecretKind::token);
  REQUIRE_FALSE(too_short.has_value());
  CHECK(too_short.error().find("fewer than 16 characters") != std::string::npos);

  TempFile const two_lines("first line\r\nsecond line\n", 0644);
  CHECK(read_secret_file(two_lines.path, SecretKind::password) == "first line");
  TempFile const no_password("\nsecond line\n", 0600);
  auto none = read_secret_file(no_password.path, SecretKind::password);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().find("holds no password") != std::string::npos);

  auto missing = read_secret_file("/nonexistent/token", SecretKind::token);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().find("cannot read /nonexistent/token") != std::string::npos);
}

TEST_CASE("config: db_password_file gives libpq its first line") {
  TempFile const file("s3cret\nnot the password\n", 0600);
  auto inv = load_pezd({}, {{"PEZ_CONFIG", ""}, {"PEZ_DB_PASSWORD_FILE", file.path}});
  REQUIRE(inv.has_value());
  auto params = inv->config.conn_params();
  std::map<std::string, std::string> map(params.begin(), params.end());
  CHECK(map["password"] == "s3cret");
}

TEST_CASE("config: admin_token_file gives the token without trailing white space, and names the file") {
  TempFile const file("0123456789abcdef0123 \t\n", 0600);
  auto inv = load_pezd({"--admin-token-file", file.path});
  REQUIRE(inv.has_value());
  CHECK(inv->config.admin_token == "0123456789abcdef0123");

  TempFile const open_file("0123456789abcdef0123\n", 0604);
  auto refused = load_pezd({"--admin-token-file", open_file.path});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("admin_token_file") != std::string::npos);
  CHECK(refused.error().message.find(open_file.path + " has mode 0604") != std::string::npos);
}
