// SPDX-License-Identifier: Apache-2.0
// The allocation core played by hand (core_rig.hpp): statements of several sequences, and
// statements that outlast request_timeout.
#include <doctest/doctest.h>

#include "core_rig.hpp"

using namespace std::chrono_literals;
using namespace pez::test;

TEST_CASE("block: a block merely running low waits a moment for others to share its statement") {
  Rig rig(Mode::block);
  rig.store.batch = 8;
  for (auto const* name : {"a", "b", "c"}) rig.create(name, 1, 1000, true);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  // The first block of a and of b (blocks of 10 here), each waited for: asked at once.
  auto first_a = rig.ask("a", 1);
  auto first_b = rig.ask("b", 1);
  REQUIRE(rig.store.pending.size() == 2);
  rig.store.answer_all();
  CHECK(rig.numbers(first_a) == std::vector<std::int64_t>{1});
  CHECK(rig.numbers(first_b) == std::vector<std::int64_t>{1});
  // a runs low (5 of its 10 left): nothing is sent yet.
  CHECK(rig.numbers(rig.ask("a", 4)) == std::vector<std::int64_t>{2, 3, 4, 5});
  CHECK(rig.store.pending.empty());
  SUBCASE("alone, it goes once the moment is over") {
    rig.advance(49ms);
    CHECK(rig.store.pending.empty());
    // b runs low meanwhile: the same statement.
    CHECK(rig.numbers(rig.ask("b", 4)) == std::vector<std::int64_t>{2, 3, 4, 5});
    rig.advance(2ms);
    REQUIRE(rig.store.pending.size() == 1);
    CHECK(rig.store.pending.front().what == "reserve a b");
  }
  SUBCASE("a block waited for goes at once, and takes it along") {
    auto first_c = rig.ask("c", 1);
    REQUIRE(rig.store.pending.size() == 1);
    CHECK(rig.store.pending.front().what == "reserve a c");
    rig.store.answer_all();
    CHECK(rig.numbers(first_c) == std::vector<std::int64_t>{1});
  }
  // Either way a's numbers go on without a gap or a repeat.
  rig.store.answer_all();
  CHECK(rig.numbers(rig.ask("a", 6)) == std::vector<std::int64_t>{6, 7, 8, 9, 10, 11});
}

TEST_CASE("block: a sequence refused in a statement of several costs the others nothing") {
  Rig rig(Mode::block, 1);
  rig.store.batch = 8;
  rig.create_spare_and_ending(true);
  auto first_a = rig.ask("a", 1);  // the one connection is busy with a's block ...
  REQUIRE(rig.store.pending.size() == 1);
  auto first_b = rig.ask("b", 1);  // ... so these wait, and go together
  auto none = rig.ask("m", 1);
  auto last_two = rig.ask("n", 2);
  rig.store.answer_next();
  CHECK(rig.numbers(first_a) == std::vector<std::int64_t>{1});
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "reserve b m n");
  int const reserves = rig.store.reserves;
  rig.store.answer_next();
  // m's refusal is m's alone: b and n keep their blocks (n its last two numbers), and nothing is
  // asked for again.
  CHECK(rig.error(none) == pez::Errc::exhausted);
  CHECK(rig.numbers(first_b) == std::vector<std::int64_t>{1});
  CHECK(rig.numbers(last_two) == std::vector<std::int64_t>{11, 12});
  CHECK(rig.store.pending.empty());
  CHECK(rig.store.reserves == reserves);
  CHECK(rig.numbers(rig.ask("b", 3)) == std::vector<std::int64_t>{2, 3, 4});
}

TEST_CASE("strict: the waiting requests of several sequences share one statement, each sequence's take apart") {
  Rig rig(Mode::strict, 1);
  rig.store.take_batch_size = 8;
  rig.create_spare_and_ending(false);
  auto first = rig.ask("forward", 1);  // the one connection is busy with it ...
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "take forward");
  auto b1 = rig.ask("b", 2);     // ... so these wait, and go together, in the order of the names
  auto n_all = rig.ask("n", 3);  // more than n has left: refused alone
  auto a1 = rig.ask("a", 1);
  auto none = rig.ask("m", 1);
  auto b2 = rig.ask("b", 1);
  auto a2 = rig.ask("a", 2);
  int const takes = rig.store.takes;
  rig.store.answer_next();
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "take a b m n");
  CHECK(rig.store.takes == takes + 1);
  rig.store.answer_next();
  // Each sequence's requests share its take, in the order they came; m's refusal and n's are
  // theirs alone, and b and a keep their numbers.
  CHECK(rig.numbers(a1) == std::vector<std::int64_t>{1});
  CHECK(rig.numbers(a2) == std::vector<std::int64_t>{2, 3});
  CHECK(rig.numbers(b1) == std::vector<std::int64_t>{1, 2});
  CHECK(rig.numbers(b2) == std::vector<std::int64_t>{3});
  CHECK(rig.error(none) == pez::Errc::exhausted);
  CHECK(rig.error(n_all) == pez::Errc::exhausted);
  CHECK(rig.store.pending.empty());
  CHECK(rig.store.takes == takes + 1);
  // The refusals took nothing: n's last two numbers are still there, and b goes on from 4.
  auto n_last = rig.ask("n", 2);
  auto b3 = rig.ask("b", 1);
  rig.store.answer_all();
  CHECK(rig.numbers(n_last) == std::vector<std::int64_t>{11, 12});
  CHECK(rig.numbers(b3) == std::vector<std::int64_t>{4});
}

TEST_CASE("strict: a statement of several that fails as a whole is tried again for each, nothing handed out twice") {
  Rig rig(Mode::strict, 1);
  rig.store.take_batch_size = 8;
  rig.create("a", 1, 1000, false);
  rig.create("b", 1, 1000, false);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto first = rig.ask("forward", 1);
  auto a = rig.ask("a", 2);
  auto b = rig.ask("b", 1);
  rig.store.answer_next();
  REQUIRE(rig.store.pending.size() == 1);
  REQUIRE(rig.store.pending.front().what == "take a b");
  // The connection breaks: whatever the statement took is burned, and each tries again.
  rig.store.fail_next(StoreError{StoreError::Kind::lost, "the connection broke"});
  CHECK_FALSE(a->has_value());
  CHECK_FALSE(b->has_value());
  rig.run_for(1s);
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  // The fake took a's 1 2 and b's 1 when the statement was sent: burned, never handed out.
  CHECK(rig.numbers(a) == std::vector<std::int64_t>{3, 4});
  CHECK(rig.numbers(b) == std::vector<std::int64_t>{2});
}

TEST_CASE("strict: a request whose statement runs past request_timeout is told the database did not answer") {
  Rig rig(Mode::strict, 1);
  auto sent = rig.ask("forward", 1);
  auto behind = rig.ask("forward", 1);     // waits for forward's statement to end
  auto elsewhere = rig.ask("reverse", 1);  // waits for the one connection
  REQUIRE(rig.store.pending.size() == 1);
  rig.advance(5100ms);  // nothing answered
  std::string const unanswered =
      "the database did not answer within 5s (request_timeout): it is overloaded or unreachable, or a transaction "
      "holds a lock pezd waits for; try again later";
  CHECK(rig.error(sent) == pez::Errc::unavailable);
  CHECK(message(sent) == unanswered);
  CHECK(message(behind) == unanswered);
  CHECK(rig.error(elsewhere) == pez::Errc::unavailable);
  CHECK(message(elsewhere) == "the database is unavailable: no answer within 5s (request_timeout); try again later");
}

TEST_CASE("strict: after a statement of several took too long, each goes alone until its own succeeds") {
  // One of them may be locked by a transaction left open (an operator's, a hostile role's): it
  // must not hold up the others' requests at every try. (What a statement that failed so took
  // is burned.)
  Rig rig(Mode::strict, 1);
  rig.store.take_batch_size = 8;
  for (auto const* name : {"a", "b", "l"}) rig.create(name, 1, 1000, false);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto const too_slow =
      StoreError{StoreError::Kind::timeout, "the database did not answer within 5s (request_timeout)"};
  auto first = rig.ask("forward", 1);  // the one connection is busy with it ...
  auto first_a = rig.ask("a", 1);      // ... so these wait, and go together
  auto first_l = rig.ask("l", 1);
  rig.store.answer_next();
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  REQUIRE(rig.store.pending.size() == 1);
  REQUIRE(rig.store.pending.front().what == "take a l");
  rig.store.fail_next(too_slow);
  CHECK(rig.error(first_a) == pez::Errc::unavailable);
  CHECK(rig.error(first_l) == pez::Errc::unavailable);
  // Asked for again past their retry time: each goes alone. a's own statement succeeds; l's
  // takes too long again (its lock is still held).
  rig.advance(50ms);
  auto again_a = rig.ask("a", 1);
  auto again_l = rig.ask("l", 1);
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "take a");
  rig.store.answer_next();
  CHECK(rig.numbers(again_a) == std::vector<std::int64_t>{2});
  REQUIRE(rig.store.pending.size() == 1);
  REQUIRE(rig.store.pending.front().what == "take l");
  rig.store.fail_next(too_slow);
  CHECK(rig.error(again_l) == pez::Errc::unavailable);
  // a shares statements again; l still goes alone, at its turn.
  rig.advance(100ms);
  auto busy = rig.ask("forward", 1);
  auto then_a = rig.ask("a", 1);
  auto then_b = rig.ask("b", 1);
  auto then_l = rig.ask("l", 1);
  rig.store.answer_next();
  CHECK(rig.numbers(busy) == std::vector<std::int64_t>{2});
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "take a b");
  rig.store.answer_next();
  CHECK(rig.numbers(then_a) == std::vector<std::int64_t>{3});
  CHECK(rig.numbers(then_b) == std::vector<std::int64_t>{1});
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "take l");
  // Its lock released, l's own statement succeeds, and it shares statements again.
  rig.store.answer_next();
  CHECK(rig.numbers(then_l) == std::vector<std::int64_t>{3});
  auto busy_again = rig.ask("forward", 1);
  auto last_l = rig.ask("l", 1);
  auto last_a = rig.ask("a", 1);
  rig.store.answer_next();
  CHECK(rig.numbers(busy_again) == std::vector<std::int64_t>{3});
  REQUIRE(rig.store.pending.size() == 1);
  CHECK(rig.store.pending.front().what == "take a l");
  rig.store.answer_all();
  CHECK(rig.numbers(last_l) == std::vector<std::int64_t>{4});
  CHECK(rig.numbers(last_a) == std::vector<std::int64_t>{4});
}

TEST_CASE("block: a request whose block is not reserved within request_timeout is told the database did not answer") {
  std::string const unanswered =
      "the database did not answer within 5s (request_timeout): it is overloaded or unreachable, or a transaction "
      "holds a lock pezd waits for; try again later";
  Rig rig(Mode::block, 1);
  auto first = rig.ask("forward", 1);  // its reserve statement holds the one connection
  REQUIRE(rig.store.pending.size() == 1);
  rig.advance(5100ms);
  CHECK(rig.error(first) == pez::Errc::unavailable);
  CHECK(message(first) == unanswered);
  // The statement fails as too slow, and reverse's takes the connection before forward's retry
  // time: a request for forward that runs out of time meanwhile is told why all the same.
  auto second = rig.ask("forward", 1);
  rig.store.fail_next(StoreError{StoreError::Kind::timeout, "the database did not answer within 5s (request_timeout)"});
  auto other = rig.ask("reverse", 1);
  REQUIRE(rig.store.pending.size() == 1);
  REQUIRE(rig.store.pending.front().what == "reserve reverse");
  rig.advance(5100ms);
  CHECK(message(second) == unanswered);
  CHECK(message(other) == unanswered);
}

TEST_CASE("block: after a statement of several took too long, each goes alone until its own succeeds") {
  // One of them may be locked by a transaction left open: it must not hold up the others at
  // every try. (What a statement that failed so reserved is burned.)
  Rig rig(Mode::block, 2);
  rig.store.batch = 8;
  for (auto const* name : {"p", "q", "s", "t"}) rig.create(name, 1, 1000, false);
  rig.store.refresh_catalog();
  rig.store.answer_all();
  auto first_p = rig.ask("p", 1);  // the two connections are busy with p's block and s's ...
  auto first_s = rig.ask("s", 1);
  REQUIRE(rig.store.pending.size() == 2);
  auto first_q = rig.ask("q", 1);  // ... so these wait, and go together
  auto first_t = rig.ask("t", 1);
  rig.store.answer_next();
  rig.store.answer_next();
  CHECK(rig.numbers(first_p) == std::vector<std::int64_t>{1});
  CHECK(rig.numbers(first_s) == std::vector<std::int64_t>{1});
  REQUIRE(rig.store.pending.size() == 1);
  REQUIRE(rig.store.pending.front().what == "reserve q t");
  auto const too_slow =
      StoreError{StoreError::Kind::timeout, "the database did not answer within 5s (request_timeout)"};
  rig.store.fail_next(too_slow);
  rig.advance(50ms);  // past the first retry time
  REQUIRE(rig.store.pending.size() == 2);
  CHECK(rig.store.pending[0].what == "reserve q");
  CHECK(rig.store.pending[1].what == "reserve t");
  // t's own statement succeeds; q's takes too long again (its lock is still held). q then still
  // goes alone, while p, which ran out meanwhile, is asked for beside it.
  rig.store.answer(1);
  CHECK(rig.numbers(first_t) == std::vector<std::int64_t>{11});
  rig.store.fail_next(too_slow);
  CHECK(rig.numbers(rig.ask("p", 9)).size() == 9);  // the rest of p's block
  auto more_p = rig.ask("p", 1);
  rig.advance(100ms);  // past q's second retry time
  REQUIRE(rig.store.pending.size() == 2);
  CHECK(rig.store.pending[0].what == "reserve p");
  CHECK(rig.store.pending[1].what == "reserve q");
  rig.store.answer_all();
  CHECK(rig.numbers(more_p) == std::vector<std::int64_t>{11});
  CHECK(rig.numbers(first_q) == std::vector<std::int64_t>{21});
}

TEST_CASE("a request that waits past request_timeout for its sequence's next try is told what the last one met") {
  // After each failure a sequence waits before its next statement, twice as long as the time
  // before, up to a second: where request_timeout is shorter, a request that came during the
  // wait reached its deadline untried and was told only that the database had not answered.
  for (auto const mode : {Mode::strict, Mode::block}) {
    CAPTURE(mode == Mode::strict);
    Rig rig(mode, 2, 20000, {10, 10, 30s}, 300ms);
    rig.store.takes_fail = StoreError::Kind::denied;
    rig.store.reserves_fail = StoreError::Kind::denied;
    // Six failures in a row, each tried after the wait the one before set (at most 160 ms).
    for (int i = 0; i < 6; ++i) {
      auto refused = rig.ask("forward", 1);
      rig.run_for(1s);
      REQUIRE(rig.error(refused) == pez::Errc::internal);
    }
    auto waits = rig.ask("forward", 1);  // the next try is 320 ms away
    rig.run_for(1s);
    CHECK(rig.error(waits) == pez::Errc::internal);
    CHECK(message(waits) ==
          "pezd's database role may not take numbers from \"forward\" (refused); run sql/grants.sql as the owner of "
          "schema pez");
  }
}
