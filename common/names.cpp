// SPDX-License-Identifier: Apache-2.0
#include "common/names.hpp"

#include "common/text.hpp"

namespace pez {

std::expected<void, std::string> check_sequence_name(std::string_view name) {
  // Made only for an error: names are checked on every request.
  auto const rule = [] { return "a name is " + std::string(k_sequence_name_rule); };
  if (name.empty()) return std::unexpected(std::string("empty sequence name: ") + rule());
  if (name.size() > k_max_name_length) {
    return std::unexpected("sequence name " + quote_untrusted(name) + " is " + std::to_string(name.size()) +
                           " characters long: " + rule());
  }
  if (name[0] < 'a' || name[0] > 'z') {
    return std::unexpected("sequence name " + quote_untrusted(name) + " does not start with a-z: " + rule());
  }
  for (char c : name) {
    bool const ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return std::unexpected("sequence name " + quote_untrusted(name) + " contains " +
                             quote_untrusted(std::string_view(&c, 1)) + ": " + rule());
    }
  }
  return {};
}

}  // namespace pez
