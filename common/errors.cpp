// SPDX-License-Identifier: Apache-2.0
#include "common/errors.hpp"

#include <array>

#include "common/text.hpp"

namespace pez {
namespace {

struct ErrcRow {
  Errc code;
  std::string_view token;
  int http_status;
  int exit_code;
};

constexpr std::array<ErrcRow, k_errc_count> k_rows{{
    {Errc::bad_request, "bad-request", 400, k_exit_usage},
    {Errc::not_found, "not-found", 404, k_exit_failure},
    {Errc::conflict, "conflict", 409, k_exit_failure},
    {Errc::exhausted, "exhausted", 409, k_exit_failure},
    {Errc::unavailable, "unavailable", 503, k_exit_temporary},
    {Errc::denied, "denied", 403, k_exit_denied},
    {Errc::too_large, "too-large", 413, k_exit_usage},
    {Errc::unsupported_version, "unsupported-version", 400, k_exit_failure},
    {Errc::misconfigured, "misconfigured", 503, k_exit_config},
    {Errc::internal, "internal", 500, k_exit_failure},
}};

constexpr ErrcRow const& row(Errc code) {
  for (auto const& r : k_rows) {
    if (r.code == code) return r;
  }
  return k_rows.back();
}

}  // namespace

std::string_view errc_token(Errc code) { return row(code).token; }
int errc_http_status(Errc code) { return row(code).http_status; }
int errc_exit_code(Errc code) { return row(code).exit_code; }

std::optional<Errc> errc_from_token(std::string_view token) {
  for (auto const& r : k_rows) {
    if (r.token == token) return r.code;
  }
  return std::nullopt;
}

Error not_found(std::string_view name) { return Error{Errc::not_found, "no sequence named " + quote_untrusted(name)}; }

}  // namespace pez
