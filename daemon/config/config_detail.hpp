// SPDX-License-Identifier: Apache-2.0
// What the files of pezd's settings share (config.cpp, config_table.cpp, config_print.cpp,
// config_secrets.cpp, config_conninfo.cpp). Internal to daemon/.
#pragma once

#include <string>
#include <string_view>

#include "daemon/config/config.hpp"

namespace pez::daemon::config_detail {

// "invalid value for setting KEY (from where cfg's value of KEY came from): WHY".
std::string invalid_setting(Config const& cfg, std::string const& key, std::string const& why);

// What --print-config shows in place of a secret.
inline constexpr std::string_view k_mask = "********";

// Whether libpq reads the mask of --print-config as a secret of text.
bool holds_the_mask(std::string const& text);

}  // namespace pez::daemon::config_detail
