// SPDX-License-Identifier: Apache-2.0
// The allocation core played by hand (core_rig.hpp): periodic sequences.
#include <doctest/doctest.h>

#include "core_rig.hpp"

using namespace std::chrono_literals;
using namespace pez::test;

// --- periodic sequences in block mode (the database's clock runs with the core's; days of 100 ms)

TEST_CASE("block: a waiter is not served from a block whose period ended when the next reserve finds none left") {
  // pez-sim seed 462: the answer that said the sequence ran out served the requests behind the one
  // it refused from the ranges held, whose period had ended meanwhile.
  Rig rig(Mode::block);
  rig.create_daily("p", 1, 10, false);
  auto first = rig.ask("p", 1);
  rig.store.answer_all();  // the day's block, 1 to 10: all of it
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  auto const day = rig.period(first);
  auto big = rig.ask("p", 12);   // more than is held: waits, and a block is asked for (none is left)
  auto small = rig.ask("p", 2);  // waits behind it
  REQUIRE(rig.store.pending.size() == 1);
  rig.advance(150ms);  // the day is over before the answer comes
  rig.store.answer_all();
  CHECK(rig.error(big) == pez::Errc::exhausted);
  std::optional<AllocateResult> const& answer = *small;
  REQUIRE(answer.has_value());
  if (answer.has_value() && answer->has_value()) CHECK(rig.period(small) != day);  // refused, or from a day not over
}

TEST_CASE("block: a block's numbers are not handed out after its period ends") {
  Rig rig(Mode::block);
  rig.create_daily("p", 1, 1000, false);
  auto first = rig.ask("p", 1);
  rig.store.answer_all();  // 1 to 10 of the first day
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  CHECK(rig.period(first) == 20300101);
  CHECK(rig.core->allocator().reserved("p") == 9);
  SUBCASE("the first day ends") { rig.advance(100ms); }
  SUBCASE("the first day ends while the machine sleeps") {
    // A machine suspended, or a virtual machine paused, finds its monotonic clock where it
    // stopped and its wall clock set on as it wakes; the database's clock went on.
    rig.clock.slept(100ms);
    rig.db.move_clock(100ms);
  }
  // 2 to 10 are not handed out
  std::vector<std::int64_t> out;
  bool refill = false;
  pez::Printing printing;
  CHECK_FALSE(rig.core->allocator().try_take("p", 1, out, printing, refill));
  auto next = rig.ask("p", 1);
  CHECK_FALSE(next->has_value());  // waits for a block of the second day
  rig.store.answer_all();
  CHECK(rig.numbers(next) == std::vector<std::int64_t>{1});  // which starts again
  CHECK(rig.period(next) == 20300102);
  CHECK(rig.store.reserves == 2);
}

TEST_CASE("block: a block of a newer period replaces the numbers held") {
  Rig rig(Mode::block);
  rig.create_daily("p", 1, 1000, false);
  auto first = rig.ask("p", 4);
  rig.store.answer_all();  // 1 to 10 of the first day: 5 to 10 are held
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1, 2, 3, 4});
  rig.db.move_clock(100ms);       // the database's clock is in the second day already
  auto second = rig.ask("p", 2);  // the first day's still, here; the next block is asked for
  CHECK(rig.numbers(second) == std::vector<std::int64_t>{5, 6});
  CHECK(rig.period(second) == 20300101);
  REQUIRE(rig.store.pending.size() == 1);
  rig.store.answer_all();  // 1 to 10 of the second day: 7 to 10 of the first go
  CHECK(rig.core->allocator().reserved("p") == 10);
  auto third = rig.ask("p", 2);
  CHECK(rig.numbers(third) == std::vector<std::int64_t>{1, 2});
  CHECK(rig.period(third) == 20300102);
}

TEST_CASE("block: a block that arrives after its period ended is burned and asked for again") {
  Rig rig(Mode::block);
  rig.create_daily("p", 1, 1000, false);
  rig.advance(50ms);
  auto first = rig.ask("p", 1);  // 1 to 10 of the first day, which has 50 ms left, are on their way...
  REQUIRE(rig.store.pending.size() == 1);
  SUBCASE("... and arrive when it is over") { rig.advance(60ms); }
  SUBCASE("... and the machine sleeps past its end before they arrive") {
    rig.clock.slept(60ms);
    rig.db.move_clock(60ms);
  }
  rig.store.answer_next();
  CHECK_FALSE(first->has_value());
  CHECK(rig.core->allocator().reserved("p") == 0);
  rig.run_for(1s);
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1});
  CHECK(rig.period(first) == 20300102);
  CHECK(rig.store.reserves == 2);
}

TEST_CASE("block: a periodic sequence that ran out serves again once its period moved on") {
  Rig rig(Mode::block);
  SUBCASE("it held a block of the period that ran out: asked again when that period ends") {
    rig.create_daily("p", 1, 5, false);
    auto all = rig.ask("p", 5);
    rig.store.answer_all();
    CHECK(rig.numbers(all) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
    auto none = rig.ask("p", 1);
    rig.store.answer_all();  // the next reserve: none left today
    CHECK(rig.error(none) == pez::Errc::exhausted);
    rig.advance(100ms);
    auto next = rig.ask("p", 2);
    rig.store.answer_all();
    CHECK(rig.numbers(next) == std::vector<std::int64_t>{1, 2});
    CHECK(rig.period(next) == 20300102);
  }
  SUBCASE("it held none (another took them all): asked again a second later") {
    rig.create_daily("p", 1, 3, false);
    REQUIRE(rig.db.take("p", 3));
    auto none = rig.ask("p", 1);
    rig.store.answer_all();
    CHECK(rig.error(none) == pez::Errc::exhausted);
    int const reserves = rig.store.reserves;
    rig.advance(150ms);  // a new day, which this daemon cannot see: not asked for yet
    auto still = rig.ask("p", 1);
    CHECK(rig.error(still) == pez::Errc::exhausted);
    CHECK(rig.store.reserves == reserves);
    rig.advance(1s);
    auto next = rig.ask("p", 1);
    rig.store.answer_all();
    CHECK(rig.numbers(next) == std::vector<std::int64_t>{1});
    CHECK(rig.period(next) > 20300102);
    CHECK(rig.store.reserves == reserves + 1);
  }
}

TEST_CASE("block: near its period's end a block is sized by the time left, so the period's numbers last it") {
  // CI, test_formats.py (new year under load): blocks sized to last block_duration, taken in the
  // last moments of a period (the daemon's clock past the period's end, less its margin, the
  // database's not), were dropped almost whole when the period ended; a few of them used up a
  // sequence without cycle's whole year, and the next reserve was refused as run out.
  // Here a day holds 3,000 numbers and the load takes 1,000 a day, in asks of 10 each
  // millisecond; each day's last ask comes when this daemon has stopped handing out the day's
  // numbers and the database is still in it.
  Rig rig(Mode::block, 2, 20000, pez::daemon::BlockOptions{10, 1'000'000, 1s});
  rig.create_daily("p", 1, 3000, false);
  rig.advance(std::chrono::microseconds(999) + std::chrono::nanoseconds(500));
  std::int32_t day = 0;
  int days = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    auto answer = rig.ask("p", 10);
    rig.store.answer_all();
    INFO("ask at ", ms, ".9995 ms");
    if (rig.period(answer) != day) {  // a number, or the test stops here
      day = rig.period(answer);
      ++days;
    }
    rig.advance(1ms);
  }
  CHECK(days == 10);
}

TEST_CASE("strict: an answer is dated in the period of its take, and a new period starts again") {
  Rig rig(Mode::strict);
  rig.create_daily("p", 1, 1000, false);
  auto first = rig.ask("p", 2);
  rig.store.answer_all();
  CHECK(rig.numbers(first) == std::vector<std::int64_t>{1, 2});
  CHECK(rig.period(first) == 20300101);
  rig.advance(100ms);
  auto second = rig.ask("p", 2);
  rig.store.answer_all();
  CHECK(rig.numbers(second) == std::vector<std::int64_t>{1, 2});
  CHECK(rig.period(second) == 20300102);
}
