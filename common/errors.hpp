// SPDX-License-Identifier: Apache-2.0
// Kinds of failure shared by pezd, the socket protocol and pez, and the one table that maps
// each kind to its wire token, HTTP status and pez exit code.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pez {

enum class Errc {
  bad_request,          // the request itself is wrong: bad count, bad name, unknown parameter
  not_found,            // no such sequence or resource
  conflict,             // the sequence exists already, or may not be changed that way
  exhausted,            // a sequence without CYCLE has handed out its last number
  unavailable,          // the database cannot be reached now: retry later
  denied,               // the peer may not do this
  too_large,            // a line, header or body over its limit
  unsupported_version,  // the client speaks a protocol version this pezd does not
  misconfigured,        // pezd's database settings are wrong (no such database or role, authentication
                        // or TLS verification failed): retrying will not help until they are fixed;
                        // also pezd's own settings when it starts (load_config)
  internal,             // anything else: a bug or an unexpected database answer
};
inline constexpr std::size_t k_errc_count = static_cast<std::size_t>(Errc::internal) + 1;

// The exit codes of pez (sysexits.h values where one fits).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;
inline constexpr int k_exit_usage = 64;      // EX_USAGE
inline constexpr int k_exit_no_daemon = 69;  // EX_UNAVAILABLE
inline constexpr int k_exit_temporary = 75;  // EX_TEMPFAIL
inline constexpr int k_exit_denied = 77;     // EX_NOPERM
inline constexpr int k_exit_config = 78;     // EX_CONFIG: pezd's own configuration is wrong

std::string_view errc_token(Errc code);
std::optional<Errc> errc_from_token(std::string_view token);
int errc_http_status(Errc code);
int errc_exit_code(Errc code);

// An error as it crosses a boundary: a kind and a sentence for a person.
struct Error {
  Errc code;
  std::string message;
};

// No sequence of this name: the one place the answer is worded (the name as quote_untrusted shows
// it, since it may be anything a client sent).
Error not_found(std::string_view name);

}  // namespace pez
