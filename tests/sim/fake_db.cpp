// SPDX-License-Identifier: Apache-2.0
#include "fake_db.hpp"

#include <algorithm>
#include <limits>
#include <regex>

#include "common/names.hpp"
#include "common/number_template.hpp"
#include "common/sequence.hpp"

namespace pez::sim {
namespace {

using Kind = StoreError::Kind;

StoreError invalid(std::string message) { return StoreError{Kind::invalid, std::move(message)}; }

i128 magnitude(std::int64_t step) { return step > 0 ? i128(step) : -i128(step); }

SequenceShape shape_of(SequenceInfo const& info) {
  return SequenceShape{info.increment, info.min, info.max, info.start, info.cycle};
}

// What pezd makes of the format columns as the catalog read finds them (db_answers.cpp, read_format).
void read_format(SequenceInfo& info, CreateSpec const& spec) {
  namespace nt = number_template;
  info.periodic = spec.period.has_value();
  if (spec.period) info.time_zone = spec.time_zone.value_or("UTC");
  if (!spec.format) return;
  nt::TemplateRules const rules{spec.period ? *nt::period_named(*spec.period) : nt::Period::none,
                                spec.check ? *nt::check_named(*spec.check) : nt::Check::none, spec.min, spec.max};
  auto parsed = nt::parse(*spec.format, rules);
  if (parsed) {
    info.format = std::make_shared<nt::NumberTemplate const>(std::move(*parsed));
  } else {
    info.format_error = "its format cannot be used: " + parsed.error();
  }
}

bool valid_name(std::string const& name) {
  static std::regex const pattern{std::string(k_sequence_name_pattern)};
  return std::regex_match(name, pattern);
}

}  // namespace

FakeDb::FakeDb() {
  create_by_hand("forward", 1, 1, k_sequence_max, 1, true);
  create_by_hand("reverse", -1, 1, k_sequence_max, k_sequence_max, true);
  for (auto const* name : {"forward", "reverse"}) {
    auto& s = m_sequences.at(name);
    s.has_row = true;
    s.info.generation = ++m_generations;
    m_origins[{s.life, s.info.generation, 0}] = s.info.start;
  }
}

void FakeDb::create_by_hand(std::string const& name, std::int64_t increment, std::int64_t min, std::int64_t max,
                            std::int64_t start, bool cycle) {
  Sequence s;
  s.info = SequenceInfo{name, increment, min, max, start, cycle, std::nullopt, 0, {}, {}, {}, false};
  s.has_row = false;
  s.last_value = start;
  s.is_called = false;
  s.life = ++m_lives;
  m_origins[{s.life, 0, 0}] = start;
  m_sequences[name] = s;
}

bool FakeDb::relation(std::string const& name) const {
  for (auto const* table : {"sequences", "sequences_pkey", "schema_migrations", "schema_migrations_pkey"}) {
    if (name == table) return true;
  }
  return m_sequences.contains(name);
}

SequenceInfo const* FakeDb::info(std::string const& name) const {
  auto it = m_sequences.find(name);
  return it == m_sequences.end() ? nullptr : &it->second.info;
}

std::uint64_t FakeDb::life_of(std::string const& name) const {
  auto it = m_sequences.find(name);
  return it == m_sequences.end() ? 0 : it->second.life;
}

std::int64_t FakeDb::origin_of(std::uint64_t life, std::int64_t generation, std::int32_t period) const {
  auto it = m_origins.find({life, generation, period});
  return it == m_origins.end() ? 0 : it->second;
}

void FakeDb::set_clock(std::function<Clock::time_point()> base) {
  m_latest = latest();
  m_offset = now();
  m_base = std::move(base);
  m_base_zero = m_base ? m_base() : Clock::time_point{};
}

void FakeDb::move_clock(Clock::duration by) {
  m_latest = latest();
  m_offset += by;
}

Clock::duration FakeDb::now() const { return (m_base ? m_base() - m_base_zero : Clock::duration::zero()) + m_offset; }

Clock::duration FakeDb::latest() const { return std::max(m_latest, now()); }

Clock::duration FakeDb::period_clock() const { return m_floor ? std::max(*m_floor, now()) : now(); }

Periods FakeDb::periods_of(std::uint64_t life) const {
  auto it = m_periods.find(life);
  return it == m_periods.end() ? Periods{} : it->second;
}

std::int32_t FakeDb::period_now(std::string const& name) const {
  auto it = m_sequences.find(name);
  if (it == m_sequences.end() || !it->second.periods) return 0;
  auto const& s = it->second;
  return s.periods.key(std::max(s.current, s.periods.index_at(period_clock())));
}

std::optional<std::uint64_t> FakeDb::left_now(std::string const& name) const {
  auto it = m_sequences.find(name);
  if (it == m_sequences.end()) return std::nullopt;
  Sequence s = it->second;
  if (s.periods && s.periods.index_at(period_clock()) > s.current) {
    s.last_value = s.info.start;
    s.is_called = false;
  }
  return left_from(s);
}

FakeDb::Snapshot FakeDb::snapshot() const {
  Snapshot out;
  for (auto const& [name, s] : m_sequences) {
    if (s.periods) out.current[name] = {s.life, s.current};
  }
  return out;
}

void FakeDb::roll_back(Snapshot const& before) {
  for (auto& [name, s] : m_sequences) {
    auto it = before.current.find(name);
    if (it != before.current.end() && it->second.first == s.life) s.current = it->second.second;
  }
}

FakeDb::Entered FakeDb::enter_period(Sequence& s) {
  if (!s.periods) return {};
  // Periods only move forward: a clock that went back takes in the period entered last, or in
  // the latest one any take entered anew (the floor).
  auto const t = period_clock();
  auto const p = s.periods.index_at(t);
  if (p > s.current) {
    // The floor first: a rollback leaves the counter started again, and the floor keeps the
    // period before from going on with it.
    auto const begins = s.periods.end(p - 1);
    m_floor = m_floor ? std::max(*m_floor, begins) : begins;
    s.last_value = s.info.start;  // setval(seq, start, false)
    s.is_called = false;
    s.pass = 0;
    s.current = p;
    m_origins[{s.life, s.info.generation, s.periods.key(p)}] = s.info.start;
  }
  return Entered{s.periods.key(s.current), std::max(s.periods.end(s.current) - t, Clock::duration::zero())};
}

std::optional<std::int64_t> FakeDb::next_value(Sequence const& s, bool& wraps) {
  wraps = false;
  if (!s.is_called) return s.last_value;
  std::int64_t next = 0;
  bool const overflow = __builtin_add_overflow(s.last_value, s.info.increment, &next);
  if (overflow || next > s.info.max || next < s.info.min) {
    if (!s.info.cycle) return std::nullopt;
    wraps = true;
    return s.info.increment > 0 ? s.info.min : s.info.max;
  }
  return next;
}

std::uint64_t FakeDb::left_from(Sequence const& s) {
  // As pez.numbers_left: in numeric, so nothing overflows.
  i128 next = s.last_value;
  if (s.is_called) next += s.info.increment;
  if (next > s.info.max || next < s.info.min) {
    if (!s.info.cycle) return 0;
    next = s.info.increment > 0 ? s.info.min : s.info.max;
  }
  i128 const span = s.info.increment > 0 ? i128(s.info.max) - next : next - i128(s.info.min);
  i128 const left = span / magnitude(s.info.increment) + 1;
  return left > i128(std::numeric_limits<std::uint64_t>::max()) ? std::numeric_limits<std::uint64_t>::max()
                                                                : static_cast<std::uint64_t>(left);
}

std::expected<std::uint64_t, StoreError> FakeDb::numbers_left(std::string const& name) const {
  ++m_ops;
  auto it = m_sequences.find(name);
  if (it == m_sequences.end()) return std::unexpected(StoreError{Kind::not_found, "no sequence named " + name});
  return left_from(it->second);
}

std::expected<std::vector<std::int64_t>, StoreError> FakeDb::take(std::string const& name, std::int64_t n,
                                                                  std::vector<Origin>* origins) {
  auto r = take_dated(name, n, origins);
  if (!r) return std::unexpected(r.error());
  return std::move(r->numbers);
}

std::expected<Taken, StoreError> FakeDb::take_dated(std::string const& name, std::int64_t n,
                                                    std::vector<Origin>* origins) {
  ++m_ops;
  // The name is cast to regclass before the function runs; n is checked first inside it.
  if (!relation(name)) return std::unexpected(StoreError{Kind::not_found, "no relation named " + name});
  if (n < 1) return std::unexpected(invalid("pez.take: n must be 1 or more, got " + std::to_string(n)));
  auto it = m_sequences.find(name);
  if (it == m_sequences.end()) return std::unexpected(StoreError{Kind::not_found, "no sequence named " + name});
  Sequence& s = it->second;
  if (s.info.cycle) {
    // Refused before anything changes (before a periodic sequence enters its period).
    auto const pass = numbers_per_pass(shape_of(s.info));
    if (static_cast<std::uint64_t>(n) > pass) {
      return std::unexpected(invalid("pez.take: pez." + name + " holds " + std::to_string(pass) +
                                     " numbers before it starts over, fewer than the " + std::to_string(n) +
                                     " asked for"));
    }
  }
  // A take a new period could not serve is refused before the period is entered: a refusal
  // changes nothing (here: entered, then everything put back, floor included).
  Sequence const before = s;
  auto const floor = m_floor;
  auto const entered = enter_period(s);
  if (!s.info.cycle && left_from(s) < static_cast<std::uint64_t>(n)) {
    auto const left = left_from(s);
    s = before;
    m_floor = floor;
    return std::unexpected(StoreError{Kind::exhausted, "pez.take: pez." + name + " has " + std::to_string(left) +
                                                           " numbers left and does not cycle, fewer than the " +
                                                           std::to_string(n) + " asked for"});
  }
  Taken taken;
  taken.period = entered.period;
  for (std::int64_t i = 0; i < n; ++i) {
    bool wraps = false;
    auto const v = next_value(s, wraps);  // never empty: checked above
    if (wraps) ++s.pass;
    s.last_value = *v;
    s.is_called = true;
    taken.numbers.push_back(*v);
    if (origins) origins->push_back(Origin{s.life, s.info.generation, entered.period, s.pass});
  }
  return taken;
}

std::expected<Block, StoreError> FakeDb::reserve(std::string const& name, std::int64_t n, Origin* origin) {
  ++m_ops;
  if (!relation(name)) return std::unexpected(StoreError{Kind::not_found, "no relation named " + name});
  if (n < 1) return std::unexpected(invalid("pez.reserve: n must be 1 or more, got " + std::to_string(n)));
  auto it = m_sequences.find(name);
  if (it == m_sequences.end()) return std::unexpected(StoreError{Kind::not_found, "no sequence named " + name});
  Sequence& s = it->second;
  auto const current = s.current;
  auto const entered = enter_period(s);
  bool wraps = false;
  auto const first = next_value(s, wraps);
  if (!first) {
    s.current = current;
    return std::unexpected(StoreError{Kind::exhausted, "nextval: reached " +
                                                           std::string(s.info.increment > 0 ? "maximum" : "minimum") +
                                                           " value of sequence \"pez." + name + "\""});
  }
  if (wraps) ++s.pass;
  i128 const span = s.info.increment > 0 ? i128(s.info.max) - *first : i128(*first) - s.info.min;
  i128 const room = span / magnitude(s.info.increment);
  i128 const steps = std::min(i128(n - 1), room);
  auto const last = static_cast<std::int64_t>(i128(*first) + steps * s.info.increment);
  s.last_value = last;
  s.is_called = true;
  if (origin) *origin = Origin{s.life, s.info.generation, entered.period, s.pass};
  return Block{*first, last, s.info.increment, s.has_row ? s.info.generation : 0, entered.period, entered.valid_for};
}

std::expected<void, StoreError> FakeDb::check_create(CreateSpec const& spec) const {
  if (!valid_name(spec.name)) {
    return std::unexpected(
        invalid("invalid sequence name \"" + spec.name + "\": 1 to 48 of a-z 0-9 _ -, starting with a letter"));
  }
  if (spec.increment == 0) return std::unexpected(invalid("increment must not be 0"));
  if (spec.min >= spec.max) {
    return std::unexpected(
        invalid("min (" + std::to_string(spec.min) + ") must be below max (" + std::to_string(spec.max) + ")"));
  }
  if (magnitude(spec.increment) > i128(spec.max) - spec.min) {
    return std::unexpected(invalid("increment must be at most max - min"));
  }
  if (spec.start < spec.min || spec.start > spec.max) {
    return std::unexpected(invalid("start (" + std::to_string(spec.start) + ") must lie within min and max"));
  }
  if (spec.mode && *spec.mode != "strict" && *spec.mode != "block") {
    return std::unexpected(invalid("mode must be strict or block"));
  }
  // The format columns (sql/007): what no template could make right; the template itself is pezd's.
  if (spec.period && *spec.period != "yearly" && *spec.period != "monthly" && *spec.period != "daily") {
    return std::unexpected(invalid("period must be yearly, monthly or daily"));
  }
  if (spec.check && *spec.check != "luhn" && *spec.check != "damm" && *spec.check != "mod97") {
    return std::unexpected(invalid("check must be luhn, damm or mod97"));
  }
  if (!spec.format && (spec.period || spec.check)) {
    return std::unexpected(invalid("a period or check characters need a format that shows them"));
  }
  if (spec.format && (spec.format->size() > 200 || spec.format->find("{n") == std::string::npos)) {
    return std::unexpected(invalid("format must hold {n} and be at most 200 characters"));
  }
  if (spec.format && spec.min < 0) return std::unexpected(invalid("a formatted sequence's numbers must be 0 or more"));
  if (spec.time_zone && !spec.period) return std::unexpected(invalid("a time zone is for a periodic sequence"));
  if (spec.period && !Periods::make(*spec.period, spec.time_zone.value_or("UTC"), std::nullopt)) {
    return std::unexpected(invalid("time zone \"" + spec.time_zone.value_or("") + "\" is not known to the database"));
  }
  // Any relation of schema pez takes the name: the sequences, and the tables and their indexes.
  if (relation(spec.name)) {
    return std::unexpected(StoreError{Kind::exists, "sequence \"" + spec.name + "\" exists already"});
  }
  return {};
}

std::expected<std::int64_t, StoreError> FakeDb::create(CreateSpec const& spec) {
  ++m_ops;
  if (auto ok = check_create(spec); !ok) return std::unexpected(ok.error());
  Sequence s;
  s.info = SequenceInfo{spec.name,    spec.increment,  spec.min, spec.max, spec.start, spec.cycle,
                        std::nullopt, ++m_generations, {},       {},       {},         false};
  if (spec.mode) s.info.block = *spec.mode == "block";
  s.last_value = spec.start;
  s.is_called = false;
  s.life = ++m_lives;
  if (spec.period) {
    static constexpr char const* k_kinds[] = {"yearly", "monthly", "daily"};
    std::optional<Clock::duration> length;
    for (std::size_t i = 0; i < 3 && m_lengths; ++i) {
      if (*spec.period == k_kinds[i]) length = (*m_lengths)[i];
    }
    s.periods = *Periods::make(*spec.period, spec.time_zone.value_or("UTC"), length);
    s.current = s.periods.index_at(now());
    m_periods[s.life] = s.periods;
  }
  read_format(s.info, spec);
  m_origins[{s.life, s.info.generation, s.periods.key(s.current)}] = spec.start;
  m_sequences[spec.name] = s;
  if (on_change) on_change(spec.name);
  return s.info.generation;
}

std::vector<std::expected<std::int64_t, StoreError>> FakeDb::create_many(std::vector<CreateSpec> const& specs) {
  std::vector<std::expected<std::int64_t, StoreError>> out;
  out.reserve(specs.size());
  for (auto const& spec : specs) out.push_back(create(spec));
  return out;
}

std::expected<std::int64_t, StoreError> FakeDb::reset(std::string const& name, std::optional<std::int64_t> to) {
  ++m_ops;
  auto it = m_sequences.find(name);
  if (it == m_sequences.end())
    return std::unexpected(StoreError{Kind::not_found, "no sequence named \"" + name + "\""});
  Sequence& s = it->second;
  auto const target = to.value_or(s.info.start);
  if (target < s.info.min || target > s.info.max) {
    return std::unexpected(
        invalid("cannot reset \"" + name + "\" to " + std::to_string(target) + ": it must lie within min and max"));
  }
  s.last_value = target;
  s.is_called = false;
  // The row's default draws a generation even when the row exists (INSERT ... ON CONFLICT DO
  // UPDATE), and the update draws the next; a sequence made by hand gets its row here.
  m_generations += s.has_row ? 2 : 1;
  s.has_row = true;
  s.info.generation = m_generations;
  s.pass = 0;
  // The period stays: the numbers of the current one start again at target.
  m_origins[{s.life, s.info.generation, s.periods.key(s.current)}] = target;
  if (on_change) on_change(name);
  return s.info.generation;
}

std::expected<void, StoreError> FakeDb::drop(std::string const& name) {
  ++m_ops;
  if (name == "forward" || name == "reverse") {
    return std::unexpected(
        StoreError{Kind::in_use, "sequence \"" + name + "\" is built in and cannot be dropped (reset it instead)"});
  }
  if (m_sequences.erase(name) == 0)
    return std::unexpected(StoreError{Kind::not_found, "no sequence named \"" + name + "\""});
  if (on_change) on_change(name);
  return {};
}

std::vector<SequenceInfo> FakeDb::catalog() const {
  ++m_ops;
  std::vector<SequenceInfo> out;
  for (auto const& [name, s] : m_sequences) out.push_back(s.info);
  return out;
}

std::vector<SequenceRow> FakeDb::describe(std::string const& name) const {
  ++m_ops;
  std::vector<SequenceRow> out;
  for (auto const& [n, s] : m_sequences) {
    if (!name.empty() && n != name) continue;
    SequenceRow row;
    row.info = s.info;
    row.current_period = s.periods.key(s.current);
    row.last_value = s.last_value;
    row.is_called = s.is_called;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace pez::sim
