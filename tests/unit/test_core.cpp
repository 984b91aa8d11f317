// SPDX-License-Identifier: Apache-2.0
// The allocation core played by hand (core_rig.hpp): strict and block requests of one sequence,
// changes of the catalog, refusals.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "core_rig.hpp"
#include "daemon/alloc/sources.hpp"
#include "daemon/config/config.hpp"
#include "daemon/context.hpp"
#include "daemon/db/database.hpp"
#include "daemon/ops/operator_pages.hpp"

using namespace std::chrono_literals;
using namespace pez::test;

TEST_CASE("strict: a request larger than the batch limit is taken whole, in one statement") {
  Rig rig(Mode::strict, 2, 100);
  auto answer = rig.ask("forward", 250);
  rig.store.answer_all();
  CHECK(rig.numbers(answer).size() == 250);
  CHECK(rig.store.takes == 1);
}

TEST_CASE("strict: the next statement is on its way before the answers of the last are given") {
  Rig rig(Mode::strict);
  std::vector<int> sent_when_answered;
  std::vector<std::int64_t> first_numbers;
  auto ask = [&](std::uint32_t count) {
    rig.core->allocator().allocate("forward", count, [&](AllocateResult r) {
      REQUIRE(r);
      sent_when_answered.push_back(rig.store.takes);
      first_numbers.push_back(r->values.front());
    });
  };
  ask(1);  // goes at once
  ask(2);  // these two wait for it, then go together
  ask(3);
  CHECK(rig.store.takes == 1);
  REQUIRE(rig.store.answer_next());
  // The first request's answer is given once the statement of the two waiting was sent.
  CHECK(sent_when_answered == std::vector<int>{2});
  rig.store.answer_all();
  CHECK(sent_when_answered == std::vector<int>{2, 2, 2});
  // In the order asked, each with its own numbers.
  CHECK(first_numbers == std::vector<std::int64_t>{1, 2, 4});
}

TEST_CASE("strict: a take that keeps failing is tried again after waits that grow, not at once") {
  Rig rig(Mode::strict);
  rig.store.takes_fail = StoreError::Kind::lost;
  auto answer = rig.ask("forward", 1);
  rig.run_for(6s);
  // 10 ms, then doubling to a second: about ten tries in the request's five seconds.
  CHECK(rig.store.takes <= 12);
  CHECK(rig.store.takes >= 5);
  CHECK(rig.error(answer) == pez::Errc::unavailable);
}

TEST_CASE("no cycle: a request for more than is left gets 409 and takes nothing; smaller ones get the rest") {
  for (auto mode : {Mode::strict, Mode::block}) {
    CAPTURE(mode == Mode::block);
    Rig rig(mode);
    rig.create("five", 1, 5, false);
    rig.store.refresh_catalog();
    rig.store.answer_all();
    auto first = rig.ask("five", 3);
    rig.store.answer_all();
    CHECK(rig.numbers(first) == std::vector<std::int64_t>{1, 2, 3});
    auto too_many = rig.ask("five", 3);
    rig.store.answer_all();
    CHECK(rig.error(too_many) == pez::Errc::exhausted);
    auto rest = rig.ask("five", 2);
    rig.store.answer_all();
    CHECK(rig.numbers(rest) == std::vector<std::int64_t>{4, 5});
    auto none = rig.ask("five", 1);
    rig.store.answer_all();
    CHECK(rig.error(none) == pez::Errc::exhausted);
  }
}

TEST_CASE("strict: requests that wait together near the end are judged one by one") {
  Rig rig(Mode::strict, 1);
  rig.create("four", 1, 4, false);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto hold = rig.ask("forward", 1);  // keeps the only connection busy while the others queue
  auto big = rig.ask("four", 3);
  auto small = rig.ask("four", 2);
  auto tiny = rig.ask("four", 1);
  rig.run_for(1s);
  CHECK(rig.numbers(hold).size() == 1);
  CHECK(rig.numbers(big) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(rig.error(small) == pez::Errc::exhausted);
  CHECK(rig.numbers(tiny) == std::vector<std::int64_t>{4});
}

TEST_CASE("a notice is only a reason to read the catalog: a forged one costs no reserved number") {
  Rig rig(Mode::block);
  auto first = rig.ask("forward", 1);
  rig.store.answer_all();
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  int const reserves = rig.store.reserves;
  for (int i = 0; i < 100; ++i) rig.core->store_notice("forward");
  rig.core->store_notice("Not A Name\n");
  auto next = rig.ask("forward", 1);  // waits for the catalog read the notices asked for
  CHECK_FALSE(next->has_value());
  rig.store.answer_all();
  CHECK(rig.numbers(next) == std::vector<std::int64_t>{2});  // from the same block
  CHECK(rig.store.reserves == reserves);
  CHECK(rig.store.catalog_reads <= 3);
}

TEST_CASE("a block asked for before a drop is never served after the name is created again") {
  Rig rig(Mode::block, 3);
  rig.create("x", 1, 1000, true);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto before = rig.ask("x", 1);  // the first block (1..10) is asked for; its answer is held back
  REQUIRE(rig.store.pending.size() == 1);
  // Dropped through this daemon, then created again by someone else, from 500.
  std::optional<pez::daemon::AdminResult> dropped;
  rig.core->admin().run(pez::daemon::AdminCommand{pez::daemon::AdminCommand::Op::drop, "x", {}, {}},
                        [&](pez::daemon::AdminResult r) { dropped = std::move(r); });
  rig.store.answer(1);  // the drop
  REQUIRE(dropped);
  CHECK(dropped->has_value());
  while (rig.store.pending.size() > 1) rig.store.answer(1);  // the catalog read: x is gone
  CHECK(rig.error(before) == pez::Errc::not_found);
  rig.create("x", 500, 1000, true);
  rig.core->store_notice("x");
  while (rig.store.pending.size() > 1) rig.store.answer(1);  // the catalog read: x is back
  auto after = rig.ask("x", 3);                              // a new reserve asks for a block
  REQUIRE(rig.store.pending.size() == 2);
  rig.store.answer(0);  // now the block asked for before the drop arrives
  rig.store.answer_all();
  CHECK(rig.numbers(after) == std::vector<std::int64_t>{500, 501, 502});
}

TEST_CASE("a reserve that ran while the name was dropped answers no 404 once it is known to exist again") {
  Rig rig(Mode::block, 3);
  rig.create("x", 1, 1000, true);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  // Dropped by someone else: this daemon has not heard yet, and asks for a block, which finds no
  // sequence; its answer is held back (a slow network).
  REQUIRE(rig.db.drop("x"));
  auto before = rig.ask("x", 1);
  REQUIRE(rig.store.pending.size() == 1);
  // Created again, from 500: the daemon hears of it and reads the catalog before that answer
  // arrives; a request comes meanwhile.
  rig.create("x", 500, 1000, true);
  rig.core->store_notice("x");
  while (rig.store.pending.size() > 1) rig.store.answer(1);
  auto after = rig.ask("x", 1);
  rig.store.answer(0);  // "no sequence x", from before it was created again
  rig.store.answer_all();
  // x exists, and the daemon knew when the answer came: both are served from a block of the
  // new x, asked for again.
  CHECK(rig.numbers(before) == std::vector<std::int64_t>{500});
  CHECK(rig.numbers(after) == std::vector<std::int64_t>{501});
}

// An admin command waits for a connection as long as admin_timeout, however short request_timeout
// is: number requests may give up fast, an operator's command waits out a busy moment.
TEST_CASE("an admin command waits for a connection up to admin_timeout, past request_timeout, then says why") {
  Rig rig(Mode::strict, 1, 20000, {10, 10, 30s}, 300ms, 2s);
  auto busy = rig.ask("forward", 1);  // the one connection is busy with it
  REQUIRE(rig.store.pending.size() == 1);
  struct Answer {
    bool answered = false;
    bool succeeded = false;
    pez::Error error{pez::Errc::internal, ""};
  };
  auto inspect = [&] {
    auto answer = std::make_shared<Answer>();
    rig.core->admin().run(pez::daemon::AdminCommand{pez::daemon::AdminCommand::Op::inspect, "forward", {}, {}},
                          [answer](pez::daemon::AdminResult r) {
                            answer->answered = true;
                            answer->succeeded = r.has_value();
                            if (!r) answer->error = r.error();
                          });
    return answer;
  };
  // Past request_timeout the request is answered; the admin command waits on.
  auto served = inspect();
  rig.advance(1500ms);
  CHECK(rig.error(busy) == pez::Errc::unavailable);  // its statement ran past request_timeout
  CHECK_FALSE(served->answered);
  rig.store.answer_next();  // the take's statement ends: the connection is the admin command's
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "describe");
  rig.store.answer_next();
  CHECK(served->answered);
  CHECK(served->succeeded);

  // Past admin_timeout it gives up, and says why.
  auto held = rig.ask("forward", 1);
  REQUIRE(rig.store.pending.size() == 1);
  auto waiting = inspect();
  rig.advance(1900ms);
  CHECK_FALSE(waiting->answered);
  rig.advance(200ms);
  CHECK(waiting->answered);
  CHECK_FALSE(waiting->succeeded);
  CHECK(waiting->error.code == pez::Errc::unavailable);
  CHECK(waiting->error.message ==
        "the database is unavailable: no database connection came free within 2s (admin_timeout): each was busy "
        "with a statement (db_connections says how many pezd opens); try again later");
  // Down meanwhile: that is what it says.
  auto also_waiting = inspect();
  rig.store.down_because = "the server closed the connection";
  rig.advance(2100ms);
  CHECK(also_waiting->answered);
  CHECK_FALSE(also_waiting->succeeded);
  CHECK(also_waiting->error.message ==
        "the database is unavailable: the server closed the connection; try again later");
  rig.store.down_because.clear();
  CHECK(rig.error(held) == pez::Errc::unavailable);
}

// A change done, its read back waits for a connection (the one it ran on broke): after
// admin_timeout the command is answered, saying the change was done, rather than never.
TEST_CASE("a change whose read back finds no connection within admin_timeout says it was done") {
  Rig rig(Mode::strict, 1, 20000, {10, 10, 30s}, 300ms, 2s);
  std::optional<pez::daemon::AdminResult> answer;
  rig.core->admin().run(pez::daemon::AdminCommand{pez::daemon::AdminCommand::Op::reset, "forward", 7, {}},
                        [&](pez::daemon::AdminResult r) { answer = std::move(r); });
  REQUIRE(rig.store.pending.size() == 1);
  rig.store.break_after_answer = 1;
  rig.store.answer_next();      // reset: done, and the connection breaks
  rig.store.connected = false;  // and is being opened again
  CHECK(rig.store.pending.empty());
  rig.advance(1900ms);
  CHECK_FALSE(answer);
  rig.advance(200ms);
  REQUIRE(answer);
  REQUIRE_FALSE(answer->has_value());
  auto const& error = answer->error();
  CHECK(error.code == pez::Errc::unavailable);
  CHECK(error.message.starts_with("sequence forward was reset (generation "));
  CHECK(error.message.ends_with(
      "), but reading it back failed: the database is unavailable: pezd was still connecting to it after 2s "
      "(admin_timeout); pez admin inspect forward shows it"));
  CHECK(rig.core->admin().pending() == 0);
}

TEST_CASE("a sequence made by hand (generation 0) keeps its reserve across catalog reads") {
  Rig rig(Mode::block);
  rig.db.create_by_hand("legacy", 1, 1, 1000000, 1, false);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto first = rig.ask("legacy", 1);
  rig.store.answer_all();
  for (int i = 0; i < 5; ++i) {
    rig.store.refresh_catalog();
    rig.store.answer_all();
  }
  auto second = rig.ask("legacy", 1);
  rig.store.answer_all();
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  CHECK(rig.numbers(second) == std::vector<std::int64_t>{2});
  CHECK(rig.store.reserves == 1);
}

TEST_CASE("a cycling sequence: an answer never holds more than one pass, so never a number twice") {
  for (auto mode : {Mode::strict, Mode::block}) {
    Rig rig(mode);
    rig.create("tiny", 1, 5, true, 4);  // 1, 5, 1, 5, ...: two numbers a pass
    rig.store.refresh_catalog();
    rig.store.answer_all();
    auto three = rig.ask("tiny", 3);
    rig.store.answer_all();
    CHECK(rig.error(three) == pez::Errc::bad_request);
    auto two = rig.ask("tiny", 2);
    rig.store.answer_all();
    CHECK(rig.numbers(two) == std::vector<std::int64_t>{1, 5});
  }
}

TEST_CASE("block: a request waiting when its sequence is created again as a cycle too short for it gets 400") {
  Rig rig(Mode::block);
  rig.create("x", 1, 1000, false);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  // Eighteen of x, whose block's answer is held back; meanwhile someone drops x and creates it
  // again cycling through two numbers (1, 5, 1, 5, ...), and this daemon reads it so.
  auto waiting = rig.ask("x", 18);
  REQUIRE(rig.store.pending.size() == 1);
  REQUIRE(rig.db.drop("x"));
  rig.create("x", 1, 5, true, 4);
  rig.core->store_notice("x");
  while (rig.store.pending.size() > 1) rig.store.answer(1);  // the catalog read
  // Now the block held back arrives (of the x dropped: burned), and whatever follows, within
  // request_timeout: no pass of x holds eighteen numbers, so the request is refused as one that
  // came now would be, rather than waiting for its deadline while blocks of two are reserved one
  // after another.
  for (int i = 0; i < 200 && !*waiting; ++i) {
    if (!rig.store.answer_next()) rig.advance(20ms);
  }
  CHECK(rig.error(waiting) == pez::Errc::bad_request);
  // And the reserves stop: one block of the new x is kept, as for any sequence in use.
  for (int i = 0; i < 10 && rig.store.answer_next(); ++i) {
  }
  CHECK(rig.store.pending.empty());
  CHECK(rig.error(rig.ask("x", 3)) == pez::Errc::bad_request);
  auto two = rig.ask("x", 2);
  rig.run_for(200ms);
  CHECK(rig.numbers(two).size() == 2);
}

TEST_CASE("a pez.take answer pezd cannot read hands out nothing") {
  using pez::daemon::read_reserve;
  using pez::daemon::read_take;
  char const* good[] = {"1", "2", "3"};
  CHECK(read_take({good, good + 3}, 3).value().numbers == std::vector<std::int64_t>{1, 2, 3});
  char const* bad[] = {"1", "x2", "3"};
  auto r = read_take({bad, bad + 3}, 3);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == StoreError::Kind::unreadable);
  // What to do: the answer says where pezd's functions are defined and how to compare them.
  CHECK(r.error().message.find("schema pez as its schema files (/usr/share/pez/sql)") != std::string::npos);
  CHECK(r.error().message.find("re-create any that was changed") != std::string::npos);
  // A client's answer is that sentence, an internal error, not a refusal of the database.
  auto const answer = pez::daemon::sequence_error("forward", 3, r.error());
  CHECK(answer.code == pez::Errc::internal);
  CHECK(answer.message == r.error().message);
  char const* null[] = {"1", nullptr};
  CHECK_FALSE(read_take({null, null + 2}, 2));
  CHECK_FALSE(read_take({good, good + 2}, 3));  // fewer rows than asked for
  char const* big[] = {"9223372036854775808"};
  CHECK_FALSE(read_take({big, big + 1}, 1));

  char const* block[] = {"1", "10", "1", "5"};
  auto b = read_reserve({block, block + 4}, 10);
  REQUIRE(b);
  CHECK(b->last == 10);
  CHECK_FALSE(read_reserve({block, block + 4}, 9));  // more than asked for
  char const* against[] = {"10", "1", "1", "5"};
  CHECK_FALSE(read_reserve({against, against + 4}, 100));
  char const* off[] = {"1", "10", "2", "5"};
  CHECK_FALSE(read_reserve({off, off + 4}, 100));  // 10 is not on the step from 1
  char const* text[] = {"1", "ten", "1", "5"};
  CHECK_FALSE(read_reserve({text, text + 4}, 100));
}

TEST_CASE("no synchronous standby, and one is required: nothing is handed out in either mode, then again") {
  for (auto mode : {Mode::strict, Mode::block}) {
    CAPTURE(mode == Mode::block);
    Rig rig(mode);
    auto first = rig.ask("forward", 2);
    rig.store.answer_all();
    CHECK(rig.numbers(first).size() == 2);
    CHECK(rig.core->allocator().serving());
    rig.store.safety = "require_synchronous_standby is on and the primary has none";
    rig.store.offer();
    CHECK_FALSE(rig.core->allocator().serving());
    // Not from the database, and in block mode not from the reserve either (it is dropped).
    int const takes = rig.store.takes;
    int const reserves = rig.store.reserves;
    auto refused = rig.ask("forward", 1);
    CHECK(rig.error(refused) == pez::Errc::unavailable);
    CHECK((**refused).error().message.find("primary has none") != std::string::npos);
    std::vector<std::int64_t> out;
    bool refill = false;
    pez::Printing printing;
    CHECK_FALSE(rig.core->allocator().try_take("forward", 1, out, printing, refill));
    CHECK(rig.core->allocator().reserved("forward") == 0);
    rig.store.answer_all();
    CHECK(rig.store.takes == takes);
    CHECK(rig.store.reserves == reserves);
    // The standby is back: served again, after every number handed out before.
    rig.store.safety.reset();
    rig.store.offer();
    CHECK(rig.core->allocator().serving());
    auto again = rig.ask("forward", 1);
    rig.store.answer_all();
    CHECK(rig.numbers(again).front() > rig.numbers(first).back());
  }
}

TEST_CASE("serving (/readyz) says ready only once requests are served: block mode's refusal ends at the next offer") {
  // The store's state changes first (a probe heard its notice, a standby came back); block mode
  // stops refusing when the core next hears from the store (strict mode asks the store each time).
  // Until then /readyz must not say ready while a request would still be refused.
  for (bool const notices : {true, false}) {
    CAPTURE(notices);
    Rig rig(Mode::block);
    auto first = rig.ask("forward", 1);
    rig.store.answer_all();
    CHECK(rig.numbers(first).size() == 1);
    auto set = [&](bool on) {
      auto& what = notices ? rig.store.notices : rig.store.safety;
      what = on ? std::optional<std::string>("refused for a while") : std::nullopt;
    };
    set(true);
    CHECK_FALSE(rig.core->allocator().serving());
    rig.store.offer();
    CHECK_FALSE(rig.core->allocator().serving());
    set(false);
    CHECK_FALSE(rig.core->allocator().serving());
    auto refused = rig.ask("forward", 1);
    CHECK(rig.error(refused) == pez::Errc::unavailable);
    rig.store.offer();
    CHECK(rig.core->allocator().serving());
    auto served = rig.ask("forward", 1);
    rig.store.answer_all();
    CHECK(rig.numbers(served).size() == 1);
  }
}

TEST_CASE("block mode's refusal says what the store says now, not what it said when the refusal began") {
  // The reason changes while the refusal lasts (a probe that could not send its notice, then one
  // that sent it and heard nothing; a standby count): each refused request carries the latest.
  for (bool const notices : {true, false}) {
    CAPTURE(notices);
    Rig rig(Mode::block);
    auto& what = notices ? rig.store.notices : rig.store.safety;
    auto message = [&](auto const& slot) {
      REQUIRE(slot->has_value());
      REQUIRE_FALSE((*slot)->has_value());
      return (**slot).error().message;
    };
    what = "the first reason";
    rig.store.offer();
    auto first = rig.ask("forward", 1);
    CHECK(message(first).find("the first reason") != std::string::npos);
    what = "the second reason";
    rig.store.offer();
    auto second = rig.ask("forward", 1);
    CHECK(message(second).find("the second reason") != std::string::npos);
    what.reset();
    rig.store.offer();
    auto served = rig.ask("forward", 1);
    rig.store.answer_all();
    CHECK(rig.numbers(served).size() == 1);
  }
}

TEST_CASE("the store hears that block mode is used at the first request for a sequence it serves") {
  // Database probes again, from then on, a connection whose change notice did not arrive: block
  // mode needs notices, strict mode does not.
  Rig rig(Mode::strict);
  pez::CreateSpec spec;
  spec.name = "batches";
  spec.mode = "block";
  REQUIRE(rig.db.create(spec));
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto strict = rig.ask("forward", 1);
  rig.store.answer_all();
  CHECK(rig.numbers(strict).size() == 1);
  CHECK(rig.store.block_uses == 0);
  rig.store.notices = "change notices do not arrive";
  rig.store.notices_once_block_used = "change notices do not arrive (probed again now and then)";
  rig.store.offer();
  auto refused = rig.ask("batches", 1);
  CHECK(rig.error(refused) == pez::Errc::unavailable);
  CHECK(rig.store.block_uses >= 1);
  // The first refusal already says what the store says once it knows block mode is used.
  REQUIRE(refused->has_value());
  REQUIRE_FALSE((*refused)->has_value());
  CHECK((**refused).error().message.find("probed again") != std::string::npos);
  rig.store.notices.reset();
  rig.store.offer();
  auto served = rig.ask("batches", 1);
  rig.store.answer_all();
  CHECK(rig.numbers(served) == std::vector<std::int64_t>{1});
}

TEST_CASE("a strict request that waits for a connection when the refusal starts is not sent") {
  Rig rig(Mode::strict, 1);
  auto busy = rig.ask("forward", 1);  // holds the only connection
  auto waiting = rig.ask("reverse", 1);
  REQUIRE(rig.store.pending.size() == 1);
  rig.store.safety = "no synchronous standby";
  rig.store.answer_all();  // the connection is free again: the core hears of it
  CHECK(rig.numbers(busy).size() == 1);
  CHECK(rig.error(waiting) == pez::Errc::unavailable);
  CHECK(rig.store.takes == 1);
}

TEST_CASE("block: a session thread's takes of one name get numbers in the order asked, while one waits for the core") {
  // A take the reserve cannot serve on a session's thread is sent to the core thread; until the
  // core has it, it is not among the reserve's waiters. A block landing meanwhile must not serve
  // the next take of that thread (the next request of the same connection) first.
  Rig rig(Mode::block);
  boost::asio::io_context core_loop;
  boost::asio::io_context session_loop;
  pez::daemon::Config const config;
  pez::daemon::Database database(core_loop, {}, rig.metrics);  // never started: asked only for its settings' error
  pez::daemon::Lifecycle const lifecycle;
  pez::daemon::Shared shared(config, rig.core->allocator(), rig.core->admin(), database, core_loop.get_executor(),
                             lifecycle, 10, {});
  pez::daemon::OperatorPages const pages(shared, {});
  pez::daemon::Metrics session_metrics;
  pez::daemon::Context session_thread(shared, pages, session_loop.get_executor(), session_metrics, false);
  auto run = [](boost::asio::io_context& loop) {  // what was posted to a thread
    loop.restart();
    loop.poll();
  };
  // The number a take got, 0 while it waits.
  auto take = [&] {
    auto got = std::make_shared<std::int64_t>(0);
    session_thread.allocate("forward", 1, [got](AllocateResult r) {
      REQUIRE(r.has_value());
      REQUIRE(r->values.size() == 1);
      *got = r->values[0];
    });
    return got;
  };
  auto first = rig.ask("forward", 1);
  rig.store.answer_all();  // 1 to 10: 2 to 10 held
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  for (std::int64_t n = 2; n <= 5; ++n) CHECK(*take() == n);  // on the session's thread
  run(core_loop);                                             // half is gone: the core asks for the next block
  REQUIRE(rig.store.pending.size() == 1);
  for (std::int64_t n = 6; n <= 10; ++n) CHECK(*take() == n);
  auto earlier = take();  // nothing held: sent to the core
  CHECK(*earlier == 0);
  rig.store.answer_all();  // 11 to 20 land before the core has the take
  auto later = take();
  run(core_loop);
  run(session_loop);
  CHECK(*earlier == 11);
  CHECK(*later == 12);
  // Once both are answered, takes are served on the session's thread again.
  CHECK(*take() == 13);
}
