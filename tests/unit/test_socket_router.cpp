// SPDX-License-Identifier: Apache-2.0
// The socket's router (socket_router.hpp's route_socket) and who may administer over the socket
// (socket_peer.hpp): which line becomes which Route, the answer lines it writes itself, and the
// refusals.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/version.hpp"
#include "daemon/api/socket_router.hpp"
#include "daemon/net/socket_peer.hpp"

using pez::daemon::AdminCommand;
using pez::daemon::CheckValue;
using pez::daemon::OpsPage;
using pez::daemon::Reply;
using pez::daemon::Route;
using pez::daemon::route_socket;
using pez::daemon::SocketPeer;
using pez::daemon::TakeNumbers;
using Op = AdminCommand::Op;

namespace {

constexpr uid_t k_pezd_uid = 990;
constexpr gid_t k_admin_gid = 995;

int g_group_reads = 0;

SocketPeer::Groups no_groups(int /*fd*/) {
  ++g_group_reads;
  return std::vector<gid_t>{100, 101};
}
SocketPeer::Groups admin_among_groups(int /*fd*/) {
  ++g_group_reads;
  return std::vector<gid_t>{100, k_admin_gid};
}
SocketPeer::Groups unreadable_groups(int /*fd*/) {
  ++g_group_reads;
  return std::unexpected(std::string("Protocol not available"));
}

SocketPeer peer(uid_t uid, gid_t gid, SocketPeer::GroupsReader groups = &no_groups,
                std::optional<gid_t> admin_gid = k_admin_gid) {
  return SocketPeer(ucred{.pid = 42, .uid = uid, .gid = gid}, k_pezd_uid, admin_gid, -1, groups);
}

SocketPeer admin_peer() { return peer(0, 0); }

Route route(std::string_view line, SocketPeer&& who = admin_peer()) { return route_socket(line, 100, who); }

// The answer line of a route that is answered at once.
std::string line_of(Route const& r) {
  auto const* reply = std::get_if<Reply>(&r.what);
  REQUIRE(reply != nullptr);
  return reply->body;
}

AdminCommand command(std::string_view line) {
  auto r = route(line);
  auto const* c = std::get_if<AdminCommand>(&r.what);
  REQUIRE(c != nullptr);
  return *c;
}

}  // namespace

TEST_CASE("socket router: NEXT takes numbers, as words or (json) as the /v2 list") {
  auto r = route("NEXT forward");
  auto take = std::get<TakeNumbers>(r.what);
  CHECK(take.name == "forward");
  CHECK(take.count == 1);
  CHECK(take.api == 0);
  CHECK_FALSE(r.head);
  CHECK_FALSE(r.close_after);

  take = std::get<TakeNumbers>(route("next reverse 7 JSON").what);
  CHECK(take.name == "reverse");
  CHECK(take.count == 7);
  CHECK(take.api == 2);
}

TEST_CASE("socket router: CHECK asks for a verdict") {
  auto check = std::get<CheckValue>(route("CHECK invoices INV-2026-000042-7").what);
  CHECK(check.name == "invoices");
  CHECK(check.value == "INV-2026-000042-7");
}

TEST_CASE("socket router: HELLO, PING, STATUS and QUIT") {
  CHECK(line_of(route("HELLO 1")) == std::string("OK 1 pezd ") + pez::k_version + "\n");
  CHECK(line_of(route("ping")) == "OK pong\n");
  CHECK(std::get<OpsPage>(route("STATUS").what) == OpsPage::status);
  auto quit = route("QUIT");
  CHECK(line_of(quit) == "OK bye\n");
  CHECK(quit.close_after);
  CHECK_FALSE(route("PING").close_after);
}

TEST_CASE("socket router: each admin verb makes its command") {
  CHECK(command("LIST").op == Op::list);

  auto c = command("INSPECT tickets");
  CHECK(c.op == Op::inspect);
  CHECK(c.name == "tickets");

  c = command(R"(CREATE {"name": "tickets", "start": 1000})");
  CHECK(c.op == Op::create);
  CHECK(c.spec == R"({"name": "tickets", "start": 1000})");

  c = command("RESET tickets");
  CHECK(c.op == Op::reset);
  CHECK(c.name == "tickets");
  CHECK_FALSE(c.to.has_value());
  c = command("RESET tickets 1000");
  CHECK(c.to == 1000);

  c = command("DROP tickets");
  CHECK(c.op == Op::drop);
  CHECK(c.name == "tickets");
}

TEST_CASE("socket router: bad lines are answered with the parser's error; control bytes close") {
  struct Case {
    std::string line;
    std::string answer_starts;
    bool closes;
  };
  for (auto const& c : std::vector<Case>{
           {"", "ERR bad-request empty request", false},
           {"FROB", "ERR bad-request unknown request", false},
           {"NEXT forward 101", "ERR bad-request ", false},
           {"NEXT Bad", "ERR bad-request ", false},
           {"HELLO 2", "ERR unsupported-version this pezd speaks protocol version 1", false},
           {"RESET tickets 0", "ERR bad-request RESET: the value to restart at", false},
           {"CREATE tickets", "ERR bad-request CREATE takes a JSON object", false},
           {std::string("NEXT forward\0", 13), "ERR bad-request request contains control bytes", true},
           {"PING \x01", "ERR bad-request request contains control bytes", true},
       }) {
    CAPTURE(c.line);
    auto r = route(c.line);
    auto const answer = line_of(r);
    CHECK(answer.starts_with(c.answer_starts));
    CHECK(answer.ends_with('\n'));
    CHECK(answer.find('\n') == answer.size() - 1);
    CHECK(r.close_after == c.closes);
  }
}

TEST_CASE("socket router: only root, pezd's user and the admin group may administer") {
  auto const denied = std::string("ERR denied ") + std::string(pez::daemon::k_admin_denied) + "\n";
  g_group_reads = 0;
  for (auto const& line : {"LIST", "INSPECT tickets", "RESET tickets", "DROP tickets", R"(CREATE {"name": "x"})"}) {
    CAPTURE(line);
    CHECK(line_of(route(line, peer(1000, 1000))) == denied);
    CHECK(std::holds_alternative<AdminCommand>(route(line, peer(0, 0)).what));
    CHECK(std::holds_alternative<AdminCommand>(route(line, peer(k_pezd_uid, 1000)).what));
    CHECK(std::holds_alternative<AdminCommand>(route(line, peer(1000, k_admin_gid)).what));
    CHECK(std::holds_alternative<AdminCommand>(route(line, peer(1000, 1000, &admin_among_groups)).what));
    CHECK(line_of(route(line, peer(1000, 1000, &unreadable_groups))) == denied);
    // Without admin_group, a peer's groups are not looked at.
    CHECK(line_of(route(line, peer(1000, k_admin_gid, &admin_among_groups, std::nullopt))) == denied);
  }
  CHECK(g_group_reads == 15);  // three peers a line read groups, once each

  // Without credentials, nobody is admin.
  SocketPeer unknown(std::nullopt, k_pezd_uid, k_admin_gid, -1, &admin_among_groups);
  CHECK(unknown.describe() == "unknown peer");
  CHECK(line_of(route_socket("LIST", 100, unknown)) == denied);
  CHECK(peer(1000, 1000).describe() == "uid 1000 pid 42");
}

TEST_CASE("socket router: the peer is asked once, and only for an admin request") {
  g_group_reads = 0;
  auto who = peer(1000, 1000, &admin_among_groups);
  for (auto const& line : {"NEXT forward 3", "CHECK invoices 1", "PING", "STATUS", "HELLO 1", "FROB"}) {
    (void)route_socket(line, 100, who);
  }
  CHECK(g_group_reads == 0);
  CHECK(std::holds_alternative<AdminCommand>(route_socket("LIST", 100, who).what));
  CHECK(std::holds_alternative<AdminCommand>(route_socket("DROP x", 100, who).what));
  CHECK(g_group_reads == 1);
}
