// SPDX-License-Identifier: Apache-2.0
// Fuzzes the socket protocol (common/protocol.hpp) from both ends: the bytes a client sends are
// cut into lines under a line limit as a socket session does (daemon/net/unix_server.cpp) and parsed
// as requests, the JSON of CREATE as pez admin create sends it, and the same lines read as
// answers the way pez reads pezd's. Besides crashes and sanitizer reports, it stops on a parsed
// request that breaks DESIGN §4/§5 (a bad sequence name or a count outside 1..max_count let
// through) and on an answer line that a client would read as more than one line.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "common/admin.hpp"
#include "common/names.hpp"
#include "common/protocol.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

namespace proto = pez::proto;

void require(bool ok, char const* what, std::string_view context) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_socket: %s\n%.*s\n", what, static_cast<int>(context.size()), context.data());
  std::abort();
}

void require_one_line(std::string const& answer, std::string_view request) {
  require(!answer.empty() && answer.back() == '\n' && answer.find('\n') == answer.size() - 1 &&
              answer.find('\r') == std::string::npos,
          "an answer that is not exactly one line", request);
}

void check_request(std::string_view line, std::uint32_t max_count) {
  auto request = proto::parse_request(line, max_count);
  std::string answer;
  if (!request) {
    require(!request.error().message.empty(), "an error without a message", line);
    proto::append_error(answer, request.error().code, request.error().message);
    require_one_line(answer, line);
    return;
  }
  if (auto const* next = std::get_if<proto::Next>(&*request)) {
    require(pez::is_sequence_name(next->name), "NEXT of a name that is not a sequence name", line);
    require(next->count >= 1 && next->count <= max_count, "NEXT with a count outside 1..max_count", line);
  } else if (auto const* inspect = std::get_if<proto::Inspect>(&*request)) {
    require(pez::is_sequence_name(inspect->name), "INSPECT of a name that is not a sequence name", line);
  } else if (auto const* reset = std::get_if<proto::Reset>(&*request)) {
    require(pez::is_sequence_name(reset->name), "RESET of a name that is not a sequence name", line);
  } else if (auto const* drop = std::get_if<proto::Drop>(&*request)) {
    require(pez::is_sequence_name(drop->name), "DROP of a name that is not a sequence name", line);
  } else if (auto const* create = std::get_if<proto::Create>(&*request)) {
    auto spec = pez::parse_create_spec(create->spec);
    if (spec) {
      require(pez::is_sequence_name(spec->name), "CREATE of a name that is not a sequence name", line);
      require(spec->min < spec->max && spec->start >= spec->min && spec->start <= spec->max && spec->increment != 0,
              "CREATE of a sequence whose bounds do not hold", line);
    } else {
      proto::append_error(answer, pez::Errc::bad_request, spec.error());
      require_one_line(answer, line);
    }
  }
  (void)pez::parse_reset_body(line);
}

void check_answer(std::string_view line) {
  auto answer = proto::parse_answer(line);
  if (answer) {
    (void)proto::parse_numbers(*answer);
  } else {
    std::string again;
    proto::append_error(again, answer.error().code, answer.error().message);
    require_one_line(again, line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  // The first byte picks the settings, so that small limits are reached too.
  if (size == 0) return 0;
  std::uint32_t const max_count = (data[0] & 1) != 0 ? 100 : 3;
  std::size_t const line_limit = (data[0] & 2) != 0 ? proto::k_default_line_limit : 64;
  std::string_view input(reinterpret_cast<char const*>(data) + 1, size - 1);
  while (!input.empty()) {
    auto const nl = input.find('\n');
    // A session answers a line at or over the limit with an error and closes; a last line
    // without LF is answered when the client ends the connection.
    auto const line = input.substr(0, nl);
    if (line.size() >= line_limit) return 0;
    check_request(line, max_count);
    check_answer(line);
    if (proto::has_control_bytes(line)) return 0;  // answered, then closed
    if (nl == std::string_view::npos) break;
    input.remove_prefix(nl + 1);
  }
  return 0;
}
