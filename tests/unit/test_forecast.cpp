// SPDX-License-Identifier: Apache-2.0
// Rates and exhaustion forecasts: the windows of daemon/ops/usage.cpp fed readings by hand, and the
// words of common/forecast.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

#include "common/forecast.hpp"
#include "common/sequence.hpp"
#include "daemon/db/db_answers.hpp"
#include "daemon/ops/usage.hpp"
#include "pg_rows.hpp"

using pez::daemon::Position;
using pez::daemon::Usage;
using pez::daemon::UsageTrack;

namespace {

// An ascending sequence 1..max (cycling or not) standing at last (called).
Position at(std::int64_t last, std::int64_t max = 1'000'000, bool cycle = false, std::int64_t generation = 7) {
  Position p;
  p.name = "tickets";
  p.identity = 16384;
  p.generation = generation;
  p.shape = {1, 1, max, 1, cycle};
  p.last_value = last;
  p.is_called = true;
  return p;
}

constexpr std::int64_t k_second = 1000;

// A usage reading as libpq would hold it: rows of twelve values, NULL where none.
pez::daemon::PgResults usage_rows(std::vector<std::vector<std::optional<std::string>>> const& rows, int columns = 12) {
  return pez::test::pg_rows(rows, columns);
}

}  // namespace

TEST_CASE("usage: one reading gives what is left, but no rate yet") {
  UsageTrack t;
  CHECK(!t.known());
  t.read(at(100), 5 * k_second);
  CHECK(t.known());
  CHECK(t.left() == 1'000'000 - 100);
  CHECK(!t.cycles());
  CHECK(!t.minute());
  CHECK(!t.hour());
}

TEST_CASE("usage: the rate is how far the sequence moved over the time between readings") {
  UsageTrack t;
  t.read(at(100), 0);
  t.read(at(600), 10 * k_second);
  REQUIRE(t.minute());
  CHECK(t.minute()->numbers == 500);
  CHECK(t.minute()->seconds == doctest::Approx(10));
  CHECK(t.minute()->per_second() == doctest::Approx(50));
  REQUIRE(t.hour());
  CHECK(t.hour()->numbers == 500);
  t.read(at(600), 20 * k_second);
  CHECK(t.minute()->numbers == 500);
  CHECK(t.minute()->per_second() == doctest::Approx(25));
}

TEST_CASE("usage: a sequence that does not move has a rate of 0, not none") {
  UsageTrack t;
  t.read(at(100), 0);
  t.read(at(100), 10 * k_second);
  REQUIRE(t.minute());
  CHECK(t.minute()->numbers == 0);
  CHECK(t.minute()->per_second() == 0);
}

TEST_CASE("usage: the minute window slides; the hour keeps what the minute forgot") {
  UsageTrack t;
  // 10 numbers a second for two minutes, read every 10 s, then nothing for a minute.
  std::int64_t last = 0;
  for (int s = 0; s <= 120; s += 10) {
    t.read(at(last + 1), s * k_second);
    last += 100;
  }
  for (int s = 130; s <= 180; s += 10) t.read(at(last - 99), s * k_second);
  REQUIRE(t.minute());
  CHECK(t.minute()->numbers == 0);
  CHECK(t.minute()->seconds <= 60);
  CHECK(t.minute()->seconds >= 50);
  REQUIRE(t.hour());
  CHECK(t.hour()->numbers == 1200);
  CHECK(t.hour()->seconds == doctest::Approx(180));
}

TEST_CASE("usage: the hour window keeps at most an hour, whatever the reading interval") {
  UsageTrack t;
  std::int64_t last = 1;
  for (std::int64_t s = 0; s <= 3 * 3600; s += 10) {
    t.read(at(last), s * k_second);
    last += s < 2 * 3600 ? 1000 : 10;  // 100/s for two hours, then 1/s
  }
  REQUIRE(t.hour());
  CHECK(t.hour()->seconds <= 3600);
  CHECK(t.hour()->seconds >= 3300);
  CHECK(t.hour()->per_second() == doctest::Approx(1));
  CHECK(t.minute()->per_second() == doctest::Approx(1));
}

TEST_CASE("usage: readings further apart than the window give the rate between the last two") {
  UsageTrack t;
  t.read(at(1), 0);
  t.read(at(9001), 90 * k_second);
  REQUIRE(t.minute());
  CHECK(t.minute()->seconds == doctest::Approx(90));
  CHECK(t.minute()->per_second() == doctest::Approx(100));
}

TEST_CASE("usage: a wrap counts the numbers to the end of the range and those after its start") {
  UsageTrack t;
  t.read(at(60, 100, true), 0);
  CHECK(t.cycles());
  CHECK(t.left() == 40);
  t.read(at(20, 100, true), 10 * k_second);  // 61..100, then 1..20
  CHECK(t.left() == 80);
  CHECK(t.minute()->numbers == 60);
  // Standing at the very end: the next number is the start again, a whole pass left.
  t.read(at(100, 100, true), 20 * k_second);
  CHECK(t.left() == 100);
  CHECK(t.minute()->numbers == 140);
  t.read(at(1, 100, true), 30 * k_second);
  CHECK(t.minute()->numbers == 141);
}

TEST_CASE("usage: a wrap of the largest range does not overflow") {
  UsageTrack t;
  t.read(at(pez::k_sequence_max - 5, pez::k_sequence_max, true), 0);
  t.read(at(5, pez::k_sequence_max, true), 10 * k_second);
  CHECK(t.minute()->numbers == 10);
}

TEST_CASE("usage: descending sequences count down") {
  Position p = at(0);
  p.shape = {-1, 1, 1000, 1000, false};
  UsageTrack t;
  p.last_value = 1000;
  p.is_called = false;
  t.read(p, 0);
  CHECK(t.left() == 1000);
  p.last_value = 901;
  p.is_called = true;
  t.read(p, 10 * k_second);
  CHECK(t.left() == 900);
  CHECK(t.minute()->numbers == 100);
}

TEST_CASE("usage: a reset, a new sequence under the name or a new shape start the windows again") {
  auto restarted = [](Position next) {
    UsageTrack t;
    t.read(at(100), 0);
    t.read(at(200), 10 * k_second);
    REQUIRE(t.minute());
    t.read(next, 20 * k_second);
    bool const again = !t.minute() && !t.hour();
    t.read(next, 30 * k_second);
    return again && t.minute() && t.minute()->numbers == 0;
  };
  CHECK(restarted(at(1, 1'000'000, false, 8)));  // pez admin reset: a new generation
  auto other = at(300);
  other.identity = 16999;  // dropped and created again outside pez admin
  CHECK(restarted(other));
  auto wider = at(300, 2'000'000);  // ALTER SEQUENCE ... MAXVALUE
  CHECK(restarted(wider));
  CHECK(restarted(at(50)));  // moved back by hand (setval) without cycling
  // pez admin reset --to, read while its transaction runs: the sequence already stands at the
  // new value (sequences are not transactional), not called, while the new generation is not
  // committed yet. The jump is not numbers taken.
  auto resetting = at(500'000);
  resetting.is_called = false;
  CHECK(restarted(resetting));
}

TEST_CASE("usage: a periodic sequence in a new period counts the numbers from its start") {
  auto in = [](std::int64_t last, std::int32_t period) {
    auto p = at(last, 999'999, false);
    p.period = period;
    return p;
  };
  UsageTrack t;
  t.read(in(500, 20260101), 0);
  t.read(in(700, 20260101), 10 * k_second);
  CHECK(t.minute()->numbers == 200);
  // The counter started again at 1 on the new day: 30 numbers so far (what came after 700 the
  // day before is not known).
  t.read(in(30, 20260102), 20 * k_second);
  CHECK(t.minute()->numbers == 230);
  CHECK(t.left() == 999'999 - 30);
  CHECK(t.hour()->seconds == doctest::Approx(20));  // the window went on
  // Not yet called in the new period: nothing of it taken.
  auto fresh = in(1, 20260103);
  fresh.is_called = false;
  t.read(fresh, 30 * k_second);
  CHECK(t.minute()->numbers == 230);
}

// A take entering a new period sets the counter back at once (a sequence's state is not
// transactional) but changes the period only when its transaction commits: a reading in between
// sees the counter started again under the period before.
TEST_CASE("usage: a periodic sequence read while a take enters its new period counts once, from its start") {
  auto in = [](std::int64_t last, std::int32_t period, bool called = true) {
    auto p = at(last, 999'999, false);
    p.period = period;
    p.is_called = called;
    return p;
  };
  auto minute = [](UsageTrack const& t) {
    REQUIRE(t.minute());
    return t.minute()->numbers;
  };
  auto hour = [](UsageTrack const& t) {
    REQUIRE(t.hour());
    return *t.hour();
  };
  SUBCASE("the counter already moved on") {
    UsageTrack t;
    t.read(in(40, 20260101), 0);
    t.read(in(50, 20260101), 10 * k_second);
    t.read(in(5, 20260101), 20 * k_second);
    CHECK(minute(t) == 15);
    CHECK(hour(t).seconds == doctest::Approx(20));  // the window went on
    t.read(in(20, 20260102), 30 * k_second);
    CHECK(minute(t) == 30);
    t.read(in(25, 20260102), 40 * k_second);
    CHECK(minute(t) == 35);
  }
  SUBCASE("set back to its start, not called yet") {
    UsageTrack t;
    t.read(in(40, 20260101), 0);
    t.read(in(50, 20260101), 10 * k_second);
    t.read(in(1, 20260101, false), 20 * k_second);
    CHECK(minute(t) == 10);
    t.read(in(20, 20260102), 30 * k_second);
    CHECK(minute(t) == 30);
  }
  SUBCASE("the next period is counted from its start again") {
    UsageTrack t;
    t.read(in(40, 20260101), 0);
    t.read(in(5, 20260101), 10 * k_second);
    t.read(in(8, 20260102), 20 * k_second);
    CHECK(minute(t) == 8);
    t.read(in(3, 20260103), 30 * k_second);
    CHECK(minute(t) == 11);
  }
}

TEST_CASE("usage: a reading no later than the last is ignored") {
  UsageTrack t;
  t.read(at(100), 10 * k_second);
  t.read(at(200), 10 * k_second);
  CHECK(t.left() == 1'000'000 - 100);
  t.read(at(300), 5 * k_second);
  CHECK(!t.minute());
}

TEST_CASE("usage: a run-out sequence has nothing left and stays so") {
  UsageTrack t;
  t.read(at(990, 1000), 0);
  t.read(at(1000, 1000), 10 * k_second);
  CHECK(t.left() == 0);
  CHECK(t.minute()->numbers == 10);
  t.read(at(1000, 1000), 20 * k_second);
  CHECK(t.left() == 0);
  CHECK(t.minute()->numbers == 10);
}

TEST_CASE("usage: a track stays small, for there may be 10,000 sequences") { CHECK(sizeof(UsageTrack) <= 320); }

TEST_CASE("usage: a round forgets the sequences it did not meet") {
  Usage usage;
  CHECK(!usage.measured());
  auto round = usage.begin_round();
  auto other = at(5);
  other.name = "jobs";
  usage.read(at(1), round);
  usage.read(other, round);
  usage.end_round(round);
  CHECK(usage.measured());
  CHECK(usage.find("tickets") != nullptr);
  CHECK(usage.find("jobs") != nullptr);
  round = usage.begin_round();
  auto later = at(11);
  later.read_at = 10 * k_second;
  usage.read(later, round);
  usage.end_round(round);
  CHECK(usage.find("jobs") == nullptr);
  REQUIRE(usage.find("tickets") != nullptr);
  CHECK(usage.find("tickets")->minute()->numbers == 10);
}

TEST_CASE("usage: overlapping rounds forget only what neither read") {
  Usage usage;
  auto const first = usage.begin_round();
  auto const second = usage.begin_round();
  auto other = at(5);
  other.name = "jobs";
  usage.read(at(1), second);
  usage.read(other, first);
  usage.end_round(first);  // tickets was read by the later round: kept
  CHECK(usage.find("tickets") != nullptr);
  CHECK(usage.find("jobs") != nullptr);
  usage.end_round(second);
  CHECK(usage.find("jobs") == nullptr);
}

TEST_CASE("usage: a page of a usage reading gives the positions it could read, when, and where the next page starts") {
  auto const page = pez::daemon::usage_answer(usage_rows({
      {"_generations", "16390", "0", "1", "1", "9223372036854775807", "1", "f", std::nullopt, std::nullopt,
       std::nullopt, "1796395465648"},
      {"forward", "16385", "1", "1", "1", "9223372036854775807", "1", "t", "1000", "t", std::nullopt, "1796395465648"},
      {"gone", "16400", "4", "1", "1", "100", "1", "f", std::nullopt, std::nullopt, std::nullopt,
       "1796395465648"},  // dropped
      {"invoices", "16410", "9", "1", "1", "999999", "1", "f", "42", "t", "20260101", "1796395465650"},
      {"reverse", "16386", "2", "-1", "1", "9223372036854775807", "9223372036854775807", "t", "9223372036854775807",
       "f", std::nullopt, "1796395465651"},
  }));
  REQUIRE(page);
  CHECK(page->rows == 5);
  CHECK(page->last == "reverse");
  REQUIRE(page->positions.size() == 3);
  auto const& forward = page->positions[0];
  CHECK(forward.name == "forward");
  CHECK(forward.identity == 16385);
  CHECK(forward.generation == 1);
  CHECK(forward.shape.increment == 1);
  CHECK(forward.shape.cycle);
  CHECK(forward.last_value == 1000);
  CHECK(forward.is_called);
  CHECK(forward.period == 0);
  CHECK(forward.read_at == 1796395465648);
  CHECK(page->positions[1].period == 20260101);
  CHECK(page->positions[1].shape.max == 999999);
  auto const& reverse = page->positions[2];
  CHECK(reverse.shape.increment == -1);
  CHECK(reverse.shape.max == pez::k_sequence_max);
  CHECK(reverse.shape.start == pez::k_sequence_max);
  CHECK(!reverse.is_called);
  CHECK(reverse.read_at == 1796395465651);

  auto const empty = pez::daemon::usage_answer(usage_rows({}));
  REQUIRE(empty);
  CHECK(empty->rows == 0);
  CHECK(empty->positions.empty());
}

TEST_CASE("usage: an answer pezd cannot read is an error, not a position") {
  CHECK(!pez::daemon::usage_answer(usage_rows({}, 9)));
  CHECK(!pez::daemon::usage_answer(usage_rows({}, 11)));  // pez.usage()'s own, without the time
  CHECK(!pez::daemon::usage_answer(
      usage_rows({{"x", "oid?", "1", "1", "1", "9", "1", "t", "1", "t", std::nullopt, "1"}})));
  CHECK(
      !pez::daemon::usage_answer(usage_rows({{"x", "1", "1", "0", "1", "9", "1", "t", "1", "t", std::nullopt, "1"}})));
  CHECK(
      !pez::daemon::usage_answer(usage_rows({{"x", "-1", "1", "1", "1", "9", "1", "t", "1", "t", std::nullopt, "1"}})));
  CHECK(
      !pez::daemon::usage_answer(usage_rows({{"x", "1", "1", "1", "1", "9", "1", "t", "1", "t", "2026-01-01", "1"}})));
  CHECK(!pez::daemon::usage_answer(
      usage_rows({{"x", "1", "1", "1", "1", "9", "1", "t", "1", "t", std::nullopt, "yesterday"}})));
  CHECK(!pez::daemon::usage_answer(
      usage_rows({{"x", "1", "1", "1", "1", "9", "1", "t", "1", "t", std::nullopt, std::nullopt}})));
  CHECK(!pez::daemon::usage_answer(pez::daemon::PgResults{}));
}

TEST_CASE("forecast: the time left is what is left over the rate") {
  CHECK(pez::eta_seconds(1000, 10.0) == doctest::Approx(100));
  CHECK(pez::eta_seconds(0, 10.0) == 0);
  CHECK(pez::eta_seconds(0, std::nullopt) == 0);  // run out: known without a rate
  CHECK(!pez::eta_seconds(1000, std::nullopt));
  CHECK(std::isinf(*pez::eta_seconds(1000, 0.0)));
}

TEST_CASE("forecast: rates in the unit that shows them best") {
  CHECK(pez::rate_text(0) == "0/s");
  CHECK(pez::rate_text(12.4) == "12/s");
  CHECK(pez::rate_text(2.5) == "2.5/s");
  CHECK(pez::rate_text(3) == "3/s");
  CHECK(pez::rate_text(0.99) == "1/s");
  CHECK(pez::rate_text(1234) == "1.2k/s");
  CHECK(pez::rate_text(45678) == "46k/s");
  CHECK(pez::rate_text(2.5e6) == "2.5M/s");
  CHECK(pez::rate_text(0.5) == "30/min");
  CHECK(pez::rate_text(0.01) == "36/h");
  CHECK(pez::rate_text(1.0 / 86400) == "1/d");
  CHECK(pez::rate_text(1e-9) == "<0.1/d");
  CHECK(pez::rate_text(-1) == "-");
  CHECK(pez::rate_text(NAN) == "-");
}

TEST_CASE("forecast: times ahead in their two largest units") {
  CHECK(pez::eta_text(0) == "now");
  CHECK(pez::eta_text(0.4) == "now");
  CHECK(pez::eta_text(45) == "45s");
  CHECK(pez::eta_text(330) == "5m 30s");
  CHECK(pez::eta_text(3 * 3600 + 20 * 60 + 5) == "3h 20m");
  CHECK(pez::eta_text(3 * 86400 + 4 * 3600) == "3d 4h");
  CHECK(pez::eta_text(2 * 31536000.0 + 40 * 86400) == "2y 40d");
  CHECK(pez::eta_text(1e12) == "over 100y");
  CHECK(pez::eta_text(INFINITY) == "-");
  CHECK(pez::eta_text(NAN) == "-");
}
