// SPDX-License-Identifier: Apache-2.0
// libpq's TCP settings that make pezd notice a dead database server (a lost leader, a cut
// network) on a connection that waits for nothing, within about request_timeout, where the
// kernel alone would take minutes or, on an idle connection, forever.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace pez::daemon {

struct TcpSetting {
  std::string key;  // libpq keyword
  std::string value;
  std::string origin;  // "database_url", or how pezd chose it
};

// keepalives, keepalives_idle, keepalives_interval, keepalives_count and tcp_user_timeout: each
// as the connection string conninfo gives it, else pezd's value for request_timeout (probes
// from half of it on, a second apart, three of them; unacknowledged data given as long).
// url_setting names conninfo's setting for the origin. libpq ignores them on a Unix socket.
std::vector<TcpSetting> tcp_settings(std::string_view conninfo, std::string_view url_setting,
                                     std::chrono::milliseconds request_timeout);

}  // namespace pez::daemon
