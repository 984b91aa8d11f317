// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/check.hpp"

#include "common/text.hpp"

namespace pez::daemon {

std::expected<CheckVerdict, Error> check_value(std::string_view name, number_template::NumberTemplate const* format,
                                               std::string_view value) {
  if (format == nullptr) {
    return std::unexpected(Error{Errc::bad_request, "sequence " + std::string(name) +
                                                        " has no format, so its numbers carry no check characters; "
                                                        "only a formatted sequence's numbers can be checked"});
  }
  if (value.size() > k_check_reads_at_most) {
    return CheckVerdict{false, "the value is " + std::to_string(value.size()) + " bytes long; " + std::string(name) +
                                   "'s numbers are at most " + std::to_string(format->longest())};
  }
  auto reading = number_template::parse_rendered(*format, value);
  if (!reading) return CheckVerdict{false, reading.error()};
  return CheckVerdict{true, {}};
}

}  // namespace pez::daemon
