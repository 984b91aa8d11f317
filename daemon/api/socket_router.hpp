// SPDX-License-Identifier: Apache-2.0
// Turns one request line of the socket protocol (common/protocol.hpp) into what to do, without
// any I/O, as the HTTP router does for a request (router.hpp): the same Route, whose Replies here
// hold the whole answer line, OK or ERR, as the protocol writes it.
#pragma once

#include <cstdint>
#include <string_view>

#include "daemon/api/router.hpp"

namespace pez::daemon {

class SocketPeer;

// line: without its LF. The peer is asked whether it may administer only for an admin request.
Route route_socket(std::string_view line, std::uint32_t max_count, SocketPeer& peer);

// The refusal of an admin request from a peer that may not administer.
inline constexpr std::string_view k_admin_denied =
    "permission denied: only root, pezd's own user and processes in the admin group (setting admin_group) may "
    "administer sequences; a group you were just added to counts from your next login (or newgrp)";

}  // namespace pez::daemon
