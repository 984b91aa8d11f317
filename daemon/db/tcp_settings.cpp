// SPDX-License-Identifier: Apache-2.0
#include "daemon/db/tcp_settings.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>

#include "common/settings.hpp"

namespace pez::daemon {

std::vector<TcpSetting> tcp_settings(std::string_view conninfo, std::string_view url_setting,
                                     std::chrono::milliseconds request_timeout) {
  // What the connection string sets itself (a string libpq cannot read fails the connection
  // later, with libpq's message).
  std::map<std::string, std::string, std::less<>> given;
  if (!conninfo.empty()) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
        PQconninfoParse(std::string(conninfo).c_str(), &error), PQconninfoFree);
    if (error != nullptr) PQfreemem(error);
    for (auto* o = options.get(); o != nullptr && o->keyword != nullptr; ++o) {
      if (o->val != nullptr && *o->val != '\0') given[o->keyword] = o->val;
    }
  }
  auto const seconds = std::max<long long>(2, (request_timeout.count() + 999) / 1000);
  auto const idle = std::max<long long>(1, seconds / 2);
  auto const interval = std::max<long long>(1, (seconds - idle) / 3);
  std::string const why = "pezd, for request_timeout " + settings::format_duration(request_timeout);
  std::vector<TcpSetting> out;
  for (auto const& [key, value] : {std::pair<char const*, long long>{"keepalives", 1},
                                   {"keepalives_idle", idle},
                                   {"keepalives_interval", interval},
                                   {"keepalives_count", 3},
                                   {"tcp_user_timeout", seconds * 1000}}) {
    if (auto it = given.find(key); it != given.end()) {
      out.push_back(TcpSetting{key, it->second, std::string(url_setting)});
    } else {
      out.push_back(TcpSetting{key, std::to_string(value), why});
    }
  }
  return out;
}

}  // namespace pez::daemon
