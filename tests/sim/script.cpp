// SPDX-License-Identifier: Apache-2.0
// Scripts for test_fake_db.py: one operation per line, one answer per line.
//
//   create NAME START MIN MAX INCREMENT CYCLE [PERIOD [ZONE]]
//                                    ->  ok GENERATION | error KIND
//                                        (PERIOD: yearly, monthly or daily, with the format
//                                        Y{YYYY}-{n}, M{YYYY}{MM}-{n} or D{YYYY}{MM}{DD}-{n})
//   creates NAME1 NAME2 START MIN MAX INCREMENT CYCLE [PERIOD [ZONE]]
//                                    ->  ok G1|error:KIND G2|error:KIND (both in one statement)
//   take NAME N                      ->  ok V1 V2 ...   | error KIND
//   take_dated NAME N                ->  ok PERIOD V1 V2 ... | error KIND
//   reserve NAME N                   ->  ok FIRST LAST INCREMENT GENERATION | error KIND
//   reserve_dated NAME N             ->  ok FIRST LAST INCREMENT GENERATION PERIOD VALID_FOR | error KIND
//   reserves N NAME1 NAME2 ...       ->  ok FIRST:LAST:INCREMENT:GENERATION|error:KIND ...
//                                        (N of each, in one statement: pez.reserve_many, sql/012)
//   takes N NAME1 NAME2 ...          ->  ok PERIOD:V1,V2,...|error:KIND ...
//                                        (N of each, in one statement: pez.take_many, sql/013)
//   reset NAME [TO]                  ->  ok GENERATION | error KIND
//   drop NAME                        ->  ok | error KIND
//   left NAME                        ->  ok N | error KIND
//   state NAME                       ->  ok LAST_VALUE IS_CALLED | error KIND
//   period NAME                      ->  ok PERIOD | error KIND   (the period entered last)
//   clock SECONDS                    ->  ok   (the database's clock: SECONDS after 2030-01-01 00:00 UTC)
//   abort OPERATION ...              ->  the operation's answer, its transaction then rolled back
//                                        (take, take_dated, reserve, reserve_dated, reserves, takes)
//
// A PERIOD is yyyymmdd, 0 for none; VALID_FOR the seconds left of it with three decimals, - for none.
#include <cstdio>
#include <istream>
#include <ostream>
#include <sstream>

#include "fake_db.hpp"
#include "sim.hpp"

namespace pez::sim {
namespace {

std::string kind_name(StoreError::Kind kind) {
  switch (kind) {
    case StoreError::Kind::not_found:
      return "not_found";
    case StoreError::Kind::exhausted:
      return "exhausted";
    case StoreError::Kind::invalid:
      return "invalid";
    case StoreError::Kind::exists:
      return "exists";
    case StoreError::Kind::in_use:
      return "in_use";
    default:
      return "other";
  }
}

std::string error(StoreError const& e) { return "error " + kind_name(e.kind); }

// The shape after the name of a create line: START MIN MAX INCREMENT CYCLE [PERIOD [ZONE]].
CreateSpec read_shape(std::string const& name, std::istream& words) {
  CreateSpec spec;
  spec.name = name;
  int cycle = 0;
  words >> spec.start >> spec.min >> spec.max >> spec.increment >> cycle;
  spec.cycle = cycle != 0;
  std::string period;
  std::string zone;
  if (words >> period) {
    spec.period = period;
    spec.format = period == "yearly" ? "Y{YYYY}-{n}" : period == "monthly" ? "M{YYYY}{MM}-{n}" : "D{YYYY}{MM}{DD}-{n}";
    if (words >> zone) spec.time_zone = zone;
  }
  return spec;
}

std::string create(FakeDb& db, std::string const& name, std::istream& words) {
  auto r = db.create(read_shape(name, words));
  return r ? "ok " + std::to_string(*r) : error(r.error());
}

// creates NAME1 NAME2 SHAPE: both in one statement, in that order, of one shape.
std::string create_two(FakeDb& db, std::string const& name, std::istream& words) {
  std::string second;
  words >> second;
  auto first = read_shape(name, words);
  auto other = first;
  other.name = second;
  std::string out = "ok";
  for (auto const& r : db.create_many({first, other})) {
    out += ' ';
    out += r ? std::to_string(*r) : "error:" + kind_name(r.error().kind);
  }
  return out;
}

std::string take(FakeDb& db, std::string const& name, std::istream& words, bool dated) {
  std::int64_t n = 0;
  words >> n;
  auto r = db.take_dated(name, n);
  if (!r) return error(r.error());
  std::string out = "ok";
  if (dated) out += " " + std::to_string(r->period);
  for (auto v : r->numbers) out += " " + std::to_string(v);
  return out;
}

std::string reserve(FakeDb& db, std::string const& name, std::istream& words, bool dated) {
  std::int64_t n = 0;
  words >> n;
  auto r = db.reserve(name, n);
  if (!r) return error(r.error());
  std::ostringstream out;
  out << "ok " << r->first << ' ' << r->last << ' ' << r->step << ' ' << r->generation;
  if (dated) {
    out << ' ' << r->period << ' ';
    if (r->valid_for) {
      char text[32];
      std::snprintf(text, sizeof text, "%.3f", std::chrono::duration<double>(*r->valid_for).count());
      out << text;
    } else {
      out << '-';
    }
  }
  return out.str();
}

// reserves N NAME...: a block of each in one statement, each apart (as the simulation's store
// runs pez.reserve_many).
std::string reserve_many(FakeDb& db, std::string const& count, std::istream& words) {
  std::int64_t const n = std::stoll(count);
  std::string out = "ok";
  std::string name;
  while (words >> name) {
    auto r = db.reserve(name, n);
    out += ' ';
    out += r ? std::to_string(r->first) + ':' + std::to_string(r->last) + ':' + std::to_string(r->step) + ':' +
                   std::to_string(r->generation)
             : "error:" + kind_name(r.error().kind);
  }
  return out;
}

// takes N NAME...: numbers of each in one statement, each apart (as the simulation's store runs
// pez.take_many).
std::string take_many(FakeDb& db, std::string const& count, std::istream& words) {
  std::int64_t const n = std::stoll(count);
  std::string out = "ok";
  std::string name;
  while (words >> name) {
    auto r = db.take_dated(name, n);
    out += ' ';
    if (!r) {
      out += "error:" + kind_name(r.error().kind);
      continue;
    }
    out += std::to_string(r->period);
    char separator = ':';
    for (auto v : r->numbers) {
      out += separator;
      out += std::to_string(v);
      separator = ',';
    }
  }
  return out;
}

std::string describe(FakeDb& db, std::string const& op, std::string const& name) {
  auto rows = db.describe(name);
  if (rows.empty()) return "error not_found";
  auto const& row = rows.front();
  if (op == "period") return "ok " + std::to_string(row.current_period);
  return "ok " + std::to_string(row.last_value) + (row.is_called ? " t" : " f");
}

std::string run(FakeDb& db, std::string const& line) {
  std::istringstream words(line);
  std::string op;
  std::string name;
  words >> op >> name;
  if (op == "abort") {
    std::string const inner = line.substr(line.find("abort") + 5);
    if (name != "take" && name != "take_dated" && name != "reserve" && name != "reserve_dated" && name != "reserves" &&
        name != "takes") {
      return "error unknown-operation";
    }
    auto const before = db.snapshot();
    auto answer = run(db, inner);
    db.roll_back(before);
    return answer;
  }
  if (op == "create") return create(db, name, words);
  if (op == "creates") return create_two(db, name, words);
  if (op == "take" || op == "take_dated") return take(db, name, words, op == "take_dated");
  if (op == "reserve" || op == "reserve_dated") return reserve(db, name, words, op == "reserve_dated");
  if (op == "reserves") return reserve_many(db, name, words);
  if (op == "takes") return take_many(db, name, words);
  if (op == "reset") {
    std::optional<std::int64_t> to;
    std::int64_t v = 0;
    if (words >> v) to = v;
    auto r = db.reset(name, to);
    return r ? "ok " + std::to_string(*r) : error(r.error());
  }
  if (op == "drop") {
    auto r = db.drop(name);
    return r ? "ok" : error(r.error());
  }
  if (op == "left") {
    auto r = db.numbers_left(name);
    return r ? "ok " + std::to_string(*r) : error(r.error());
  }
  if (op == "state" || op == "period") return describe(db, op, name);
  if (op == "clock") {
    db.move_clock(std::chrono::seconds(std::stoll(name)) - db.now());
    return "ok";
  }
  return "error unknown-operation";
}

}  // namespace

int run_script(std::istream& in, std::ostream& out) {
  FakeDb db;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out << run(db, line) << '\n';
  }
  return 0;
}

}  // namespace pez::sim
