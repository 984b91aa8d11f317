// SPDX-License-Identifier: Apache-2.0
// Formatted sequences below the daemon: a create's format fields checked before anything is sent,
// answers printed through a template (and refused when they cannot be), the socket's NEXT ... json
// and CHECK, a reserve's period read back, and the verdict of a check.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "common/admin.hpp"
#include "common/format.hpp"
#include "common/number_template.hpp"
#include "common/protocol.hpp"
#include "daemon/api/check.hpp"
#include "daemon/db/db_answers.hpp"

namespace nt = pez::number_template;

namespace {

std::shared_ptr<nt::NumberTemplate const> tmpl(std::string_view text, nt::Period period, nt::Check check,
                                               std::int64_t max = 999999) {
  return std::make_shared<nt::NumberTemplate const>(nt::parse(text, nt::TemplateRules{period, check, 1, max}).value());
}

}  // namespace

TEST_CASE("create: the format fields are checked against the range, the period and the check") {
  auto ok = pez::parse_create_spec(
      R"({"name": "invoices", "max": 999999, "format": "INV-{YYYY}-{n:06}-{check}", "period": "yearly",
          "timezone": "Europe/Berlin", "check": "luhn"})");
  REQUIRE(ok);
  CHECK(ok->format == "INV-{YYYY}-{n:06}-{check}");
  CHECK(ok->period == "yearly");
  CHECK(ok->time_zone == "Europe/Berlin");
  CHECK(ok->check == "luhn");
  auto plain = pez::parse_create_spec(R"({"name": "t", "format": null})");
  REQUIRE(plain);
  CHECK_FALSE(plain->format);

  struct Bad {
    char const* json;
    char const* says;
  };
  for (auto const& bad :
       {Bad{R"({"name": "t", "format": "T"})", "no {n}"},
        Bad{R"({"name": "t", "format": 5})", "format must be a string"},
        Bad{R"({"name": "t", "format": "T{n}", "period": "weekly"})", "yearly"},
        Bad{R"({"name": "t", "format": "T{n}", "check": "crc"})", "luhn"},
        Bad{R"({"name": "t", "period": "daily"})", "needs a format"},
        Bad{R"({"name": "t", "check": "damm"})", "{check}"},
        Bad{R"({"name": "t", "format": "T{n}", "timezone": "UTC"})", "give a period"},
        Bad{R"({"name": "t", "format": "T-{YYYY}-{n}", "period": "yearly", "timezone": "a b"})", "IANA"},
        Bad{R"({"name": "t", "format": "T-{n}", "period": "yearly"})", "{YYYY}"}}) {
    CAPTURE(bad.json);
    auto r = pez::parse_create_spec(bad.json);
    REQUIRE_FALSE(r);
    CAPTURE(r.error());
    CHECK(r.error().contains(bad.says));
  }
}

TEST_CASE("printing: a formatted answer is JSON strings; what cannot be printed is found first") {
  pez::Printing const p{tmpl("INV-{YYYY}-{n:06}", nt::Period::yearly, nt::Check::none), 20260101};
  std::vector<std::int64_t> const values{41, 42};
  CHECK_FALSE(pez::printing_problem(p, values));
  std::string v1;
  pez::append_v1_body(v1, 42, p);
  CHECK(v1 == "\"INV-2026-000042\"\n");
  std::string v2;
  pez::append_v2_body(v2, values, p);
  CHECK(v2 == "[\"INV-2026-000041\", \"INV-2026-000042\"]\n");
  std::string line;
  pez::proto::append_ok_numbers(line, values, p);
  CHECK(line == "OK INV-2026-000041 INV-2026-000042\n");

  // Without the period, or with a number outside the range checked: refused, never printed.
  CHECK(pez::printing_problem(pez::Printing{p.format, 0}, values));
  CHECK(pez::printing_problem(pez::Printing{p.format, 20261301}, values));
  std::vector<std::int64_t> const outside{5, 1000000};
  CHECK(pez::printing_problem(p, outside));
  // Bare numbers have nothing to check.
  CHECK_FALSE(pez::printing_problem(pez::Printing{}, outside));
}

TEST_CASE("printing: many numbers written in place, in runs or not, read the same as each rendered alone") {
  // Each check algorithm, digits after the number (the day) and a literal after {check}; numbers
  // of every width the range allows, so the padding and the check's parity vary.
  for (auto const check : {nt::Check::luhn, nt::Check::damm, nt::Check::mod97}) {
    for (std::string_view const text : {"INV-{YYYY}-{n:09}-{check}", "R{n:04}/{YYYY}{MM}{DD}{check}-X", "{n}{check}"}) {
      auto const period = text.contains("{DD}")     ? nt::Period::daily
                          : text.contains("{YYYY}") ? nt::Period::yearly
                                                    : nt::Period::none;
      pez::Printing const p{tmpl(text, period, check, 999999999999LL), 20261231};
      std::vector<std::int64_t> values;
      for (std::int64_t v = 1; v <= 999999999999LL; v = v * 10 + 7) values.push_back(v);
      values.push_back(999999999999LL);
      // Runs up and down across carries into another width, as a block's numbers come, and a
      // number repeated (not a neighbour: written whole).
      for (std::int64_t v = 985; v <= 1012; ++v) values.push_back(v);
      for (std::int64_t v = 10012; v >= 9985; --v) values.push_back(v);
      for (std::int64_t v = 999999999980LL; v <= 999999999999LL; ++v) values.push_back(v);
      values.insert(values.end(), {5, 5, 4, 3, 4, 5, 6, 7, 8, 9, 10, 9, 1});
      nt::Date const date = period == nt::Period::none     ? nt::Date{}
                            : period == nt::Period::yearly ? nt::Date{2026, 0, 0}
                                                           : nt::Date{2026, 12, 31};
      std::string list = "[";
      std::string words = "OK";
      for (auto v : values) {
        auto const one = nt::render(*p.format, v, date);
        list += (list.size() > 1 ? ", \"" : "\"") + one + "\"";
        words += " " + one;
        REQUIRE(nt::valid(*p.format, one));
      }
      CAPTURE(text);
      std::string v2 = "prefix";
      pez::append_v2_body(v2, values, p);
      CHECK(v2 == "prefix" + list + "]\n");
      std::string line;
      pez::proto::append_ok_numbers(line, values, p);
      CHECK(line == words + "\n");
    }
  }
}

TEST_CASE("protocol: NEXT ... json and CHECK") {
  auto next = pez::proto::parse_request("NEXT invoices 3 JSON", 100);
  REQUIRE(next);
  auto const& n = std::get<pez::proto::Next>(*next);
  CHECK((n.name == "invoices" && n.count == 3 && n.json));
  auto plain = pez::proto::parse_request("next forward 2", 100);
  REQUIRE(plain);
  CHECK_FALSE(std::get<pez::proto::Next>(*plain).json);
  CHECK(pez::proto::next_line("invoices", 2, true) == "NEXT invoices 2 json\n");
  CHECK_FALSE(pez::proto::parse_request("NEXT invoices json 3", 100));
  CHECK_FALSE(pez::proto::parse_request("NEXT invoices 3 json json", 100));

  auto check = pez::proto::parse_request("CHECK invoices INV-2026-000042-5", 100);
  REQUIRE(check);
  CHECK(std::get<pez::proto::Check>(*check).value == "INV-2026-000042-5");
  CHECK(pez::proto::check_line("invoices", "X") == "CHECK invoices X\n");
  for (auto bad : {"CHECK", "CHECK invoices", "CHECK invoices a b", "CHECK Bad! x"}) {
    CAPTURE(bad);
    auto r = pez::proto::parse_request(bad, 100);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == pez::Errc::bad_request);
  }
}

TEST_CASE("check: the verdict comes from the template alone") {
  auto const t = tmpl("T-{n:06}-{check}", nt::Period::none, nt::Check::luhn);
  auto const good = nt::render(*t, 42, nt::Date{});
  auto v = pez::daemon::check_value("tickets", t.get(), good);
  REQUIRE(v);
  CHECK(v->valid);
  auto wrong = good;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  v = pez::daemon::check_value("tickets", t.get(), wrong);
  REQUIRE(v);
  CHECK_FALSE(v->valid);
  CHECK(v->reason.contains("check digit"));
  v = pez::daemon::check_value("tickets", t.get(), std::string(5000, '7'));
  REQUIRE(v);
  CHECK_FALSE(v->valid);
  auto none = pez::daemon::check_value("forward", nullptr, "12");
  REQUIRE_FALSE(none);
  CHECK(none.error().code == pez::Errc::bad_request);
}

TEST_CASE("a reserve's period and its length are read back, both or neither") {
  using pez::daemon::read_reserve;
  char const* dated[] = {"1", "10", "1", "5", "20261201", "3600.25"};
  auto b = read_reserve({dated, dated + 6}, 10);
  REQUIRE(b);
  CHECK(b->period == 20261201);
  REQUIRE(b->valid_for);
  CHECK(std::chrono::duration<double>(*b->valid_for).count() == doctest::Approx(3600.25));
  char const* plain[] = {"1", "10", "1", "5", nullptr, nullptr};
  b = read_reserve({plain, plain + 6}, 10);
  REQUIRE(b);
  CHECK(b->period == 0);
  CHECK_FALSE(b->valid_for);
  char const* half[] = {"1", "10", "1", "5", "20261201", nullptr};
  CHECK_FALSE(read_reserve({half, half + 6}, 10));
  char const* odd_date[] = {"1", "10", "1", "5", "2026-12-01", "5"};
  CHECK_FALSE(read_reserve({odd_date, odd_date + 6}, 10));
  char const* negative[] = {"1", "10", "1", "5", "20261201", "-1"};
  CHECK_FALSE(read_reserve({negative, negative + 6}, 10));
}
