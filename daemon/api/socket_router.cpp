// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/socket_router.hpp"

#include <type_traits>

#include "common/errors.hpp"
#include "common/protocol.hpp"
#include "common/version.hpp"
#include "daemon/net/socket_peer.hpp"

namespace pez::daemon {
namespace {

Reply ok_line(std::string_view payload) {
  Reply reply{200, {}, "text/plain"};
  proto::append_ok(reply.body, payload);
  return reply;
}

Reply error_line(Error const& error) {
  Reply reply{static_cast<unsigned>(errc_http_status(error.code)), {}, "text/plain"};
  proto::append_error(reply.body, error.code, error.message);
  return reply;
}

AdminCommand admin_command(proto::Request const& request) {
  using Op = AdminCommand::Op;
  if (auto const* inspect = std::get_if<proto::Inspect>(&request)) return {Op::inspect, inspect->name, {}, {}};
  if (auto const* create = std::get_if<proto::Create>(&request)) return {Op::create, {}, {}, create->spec};
  if (auto const* reset = std::get_if<proto::Reset>(&request)) return {Op::reset, reset->name, reset->to, {}};
  if (auto const* drop = std::get_if<proto::Drop>(&request)) return {Op::drop, drop->name, {}, {}};
  return {Op::list, {}, {}, {}};
}

}  // namespace

Route route_socket(std::string_view line, std::uint32_t max_count, SocketPeer& peer) {
  auto request = proto::parse_request(line, max_count);
  if (!request) {
    Route route{error_line(request.error())};
    // A line no person or client would send: whatever follows it is not worth reading.
    route.close_after = proto::has_control_bytes(line);
    return route;
  }
  if (proto::is_admin(*request)) {
    if (!peer.may_administer()) return Route{error_line(Error{Errc::denied, std::string(k_admin_denied)})};
    return Route{admin_command(*request)};
  }
  return std::visit(
      [](auto& r) -> Route {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, proto::Next>) {
          return Route{TakeNumbers{std::move(r.name), r.count, r.json ? 2 : 0, NumberForm::number}};
        } else if constexpr (std::is_same_v<T, proto::Check>) {
          return Route{CheckValue{std::move(r.name), std::move(r.value)}};
        } else if constexpr (std::is_same_v<T, proto::Hello>) {
          return Route{ok_line(std::to_string(proto::k_version) + " pezd " + k_version)};
        } else if constexpr (std::is_same_v<T, proto::Ping>) {
          return Route{ok_line("pong")};
        } else if constexpr (std::is_same_v<T, proto::Status>) {
          return Route{OpsPage::status};
        } else if constexpr (std::is_same_v<T, proto::Quit>) {
          Route route{ok_line("bye")};
          route.close_after = true;
          return route;
        } else {
          return Route{error_line(Error{Errc::internal, "an admin request routed as another"})};
        }
      },
      *request);
}

}  // namespace pez::daemon
