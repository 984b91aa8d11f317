// SPDX-License-Identifier: Apache-2.0
#include "daemon/admin/admin.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <string_view>

#include "common/admin.hpp"
#include "common/forecast.hpp"
#include "common/format.hpp"
#include "common/json_line.hpp"
#include "common/number_template.hpp"
#include "common/sequence.hpp"
#include "common/settings.hpp"
#include "common/text.hpp"
#include "daemon/alloc/allocator.hpp"
#include "daemon/ops/usage.hpp"

namespace pez::daemon {
namespace {

using namespace std::chrono_literals;
using ordered_json = nlohmann::ordered_json;

constexpr auto k_admin_sweep_every = 100ms;

// An error's advice: to try again, but not once the change is done (a failed read back).
Advice advice_after(bool change_done) { return change_done ? Advice::none : Advice::try_again; }

Error admin_error(AdminCommand const& command, StoreError const& error, Advice advice = Advice::try_again) {
  using Kind = StoreError::Kind;
  switch (error.kind) {
    case Kind::lost:
      return unavailable_error(error.message, advice);
    case Kind::timeout:
      return timeout_error(error.message, advice);
    case Kind::not_found:
      return not_found(command.name);
    case Kind::exists:
      return Error{Errc::conflict, "sequence " + quote_untrusted(command.name) +
                                       " exists already; choose another name, or drop it first"};
    case Kind::in_use:
      return Error{Errc::conflict, error.message};
    case Kind::invalid:
      return Error{Errc::bad_request, error.message};
    case Kind::denied:
      return Error{Errc::denied, "pezd's database role may not do this (" + error.message +
                                     "); the owner of schema pez can run it, or grant pezd's role the "
                                     "admin rights of sql/grants.sql"};
    case Kind::exhausted:
    case Kind::unreadable:
    case Kind::internal:
      break;
  }
  static constexpr std::array<char const*, 5> k_ops{"list", "inspect", "create", "reset", "drop"};
  spdlog::error("admin {}{}{} failed: {}", k_ops.at(static_cast<std::size_t>(command.op)),
                command.name.empty() ? "" : " of ", command.name, error.message);
  if (error.kind == Kind::unreadable) return Error{Errc::internal, error.message};
  return Error{Errc::internal, "the database refused: " + error.message};
}

// A formatted sequence's template, period, time zone and check, an example, and its next number
// as it will be printed; "format": null for bare numbers.
void describe_format(ordered_json& out, SequenceRow const& row, std::optional<std::int64_t> next) {
  namespace nt = number_template;
  auto const& info = row.info;
  if (!info.format) {
    out["format"] = nullptr;
    if (!info.format_error.empty()) out["format_error"] = info.format_error;
    return;
  }
  auto const& tmpl = *info.format;
  out["format"] = tmpl.text();
  out["example"] = nt::example(tmpl);
  out["period"] =
      tmpl.rules().period == nt::Period::none ? ordered_json(nullptr) : ordered_json(nt::name(tmpl.rules().period));
  out["time_zone"] = info.time_zone.empty() ? ordered_json(nullptr) : ordered_json(info.time_zone);
  out["check"] =
      tmpl.rules().check == nt::Check::none ? ordered_json(nullptr) : ordered_json(nt::name(tmpl.rules().check));
  if (tmpl.rules().period != nt::Period::none && row.current_period != 0) {
    auto const p = row.current_period;
    char date[16];
    std::snprintf(date, sizeof date, "%04d-%02d-%02d", p / 10000, p / 100 % 100, p % 100);
    out["current_period"] = date;
  }
  // The next number of the period entered last; a new period starts it again.
  Printing const printing{info.format, row.current_period};
  if (next) {
    std::int64_t const value[] = {*next};
    if (!printing_problem(printing, value)) {
      std::string text;
      append_rendered(text, printing, *next);
      out["next_printed"] = text;
    }
  }
}

// The rates of every daemon together (Usage), and the whole seconds until it runs out or wraps at
// the hour's rate from what is left now: null while the rate is not known, or is 0 (never).
void add_forecast(ordered_json& out, Usage const* usage, std::string const& name, std::uint64_t left) {
  auto const* track = usage != nullptr ? usage->find(name) : nullptr;
  out["rate_1m"] = nullptr;
  out["rate_1h"] = nullptr;
  out["taken_1m"] = nullptr;
  out["taken_1h"] = nullptr;
  std::optional<double> hourly;
  if (track != nullptr) {
    if (auto const minute = track->minute()) {
      out["rate_1m"] = minute->per_second();
      out["taken_1m"] = minute->numbers;
    }
    if (auto const hour = track->hour()) {
      hourly = hour->per_second();
      out["rate_1h"] = *hourly;
      out["taken_1h"] = hour->numbers;
    }
  }
  auto const eta = eta_seconds(left, hourly);
  if (!eta || std::isinf(*eta)) {
    out["eta_seconds"] = nullptr;  // not known, or never at a rate of 0
  } else if (*eta < 9e18) {
    out["eta_seconds"] = static_cast<std::int64_t>(*eta);
  } else {
    out["eta_seconds"] = std::floor(*eta);
  }
}

ordered_json describe_row(SequenceRow const& row, Allocator const& allocator, bool block_default, Usage const* usage) {
  auto const& info = row.info;
  SequenceShape const shape{info.increment, info.min, info.max, info.start, info.cycle};
  auto const view = outlook(shape, row.last_value, row.is_called);

  ordered_json out;
  out["name"] = info.name;
  out["direction"] = info.increment > 0 ? "ascending" : "descending";
  out["increment"] = info.increment;
  out["start"] = info.start;
  out["min"] = info.min;
  out["max"] = info.max;
  out["cycle"] = info.cycle;
  bool const own_mode = info.block.has_value();
  out["mode"] = (own_mode ? *info.block : block_default) ? "block" : "strict";
  out["mode_from"] = own_mode ? "sequence" : "daemon";
  out["description"] = row.description;
  out["last_value"] = row.is_called ? ordered_json(row.last_value) : ordered_json(nullptr);
  out["next"] = view.next ? ordered_json(*view.next) : ordered_json(nullptr);
  out["left"] = view.left;
  out["used"] = static_cast<double>(static_cast<long long>(view.used * 1e6)) / 1e6;
  out["exhausted"] = !view.next.has_value();
  add_forecast(out, usage, info.name, view.left);
  out["generation"] = info.generation;
  out["created_at"] = text_or_null(row.created_at);
  out["reset_at"] = text_or_null(row.reset_at);
  out["reserved_here"] = allocator.reserved(info.name);
  out["pezd_connections"] = row.pezd_connections;
  describe_format(out, row, view.next);
  return out;
}

}  // namespace

Admin::Admin(CoreClock& clock, Store& store, Allocator& allocator, std::chrono::milliseconds timeout,
             bool block_default)
    : m_clock(clock),
      m_store(store),
      m_allocator(allocator),
      m_timeout(timeout),
      m_block_default(block_default),
      m_sweep(clock.timer()),
      m_pump_soon(clock.timer()) {}

void Admin::run(AdminCommand command, AdminHandler handler) {
  if (command.op == AdminCommand::Op::create) {
    auto spec = parse_create_spec(command.spec);
    if (!spec) {
      handler(std::unexpected(Error{Errc::bad_request, spec.error()}));
      return;
    }
    command.name = spec->name;
  }
  if (m_store.down()) {
    handler(std::unexpected(unavailable_error(m_store.last_error())));
    return;
  }
  bool const create = command.op == AdminCommand::Op::create;
  m_queue.push_back(Job{std::move(command), std::move(handler), m_clock.now() + m_timeout, {}, 0});
  if (create && m_store.create_batch() > 1) {
    if (!m_pump_soon->armed()) m_pump_soon->start(Clock::duration::zero(), [this] { pump(); });
  } else {
    pump();
  }
  if (!m_queue.empty()) arm_sweep();
}

bool Admin::waiting_create(Job const& job) const {
  return job.command.op == AdminCommand::Op::create && !job.read_back;
}

void Admin::pump() {
  while (!m_queue.empty() && m_store.can_send()) {
    if (!waiting_create(m_queue.front())) {
      Job job = std::move(m_queue.front());
      m_queue.pop_front();
      start(std::move(job));
      continue;
    }
    // Creates run one statement at a time, in the order asked: two of one name in a pipeline
    // must meet in that order.
    if (m_creating) break;
    std::vector<Job> creates;
    while (!m_queue.empty() && waiting_create(m_queue.front()) && creates.size() < m_store.create_batch()) {
      creates.push_back(std::move(m_queue.front()));
      m_queue.pop_front();
    }
    if (creates.size() > 1) {
      start_creates(std::move(creates));
    } else {
      start(std::move(creates.front()));
    }
  }
}

void Admin::arm_sweep() {
  if (m_sweep->armed()) return;
  m_sweep->start(k_admin_sweep_every, [this] { sweep(); });
}

void Admin::sweep() {
  auto const now = m_clock.now();
  std::deque<Job> late;
  for (auto it = m_queue.begin(); it != m_queue.end();) {
    if (it->deadline <= now) {
      late.push_back(std::move(*it));
      it = m_queue.erase(it);
    } else {
      ++it;
    }
  }
  if (!late.empty()) {
    // Down since they came, connecting still (none up, no attempt failed yet), or every
    // connection busy with other statements all that time.
    auto const limit = settings::format_duration(m_timeout) + " (admin_timeout)";
    auto const why = m_store.down()  ? m_store.last_error()
                     : !m_store.up() ? "pezd was still connecting to it after " + limit
                                     : "no database connection came free within " + limit +
                                           ": each was busy with a statement (db_connections says how many pezd opens)";
    for (auto& job : late) failed(job, unavailable_error(why, advice_after(job.read_back.has_value())));
  }
  if (!m_queue.empty()) arm_sweep();
}

void Admin::failed(Job& job, Error error) {
  if (job.read_back) {
    // The change is done: not to be tried again (advice_after), only looked at.
    error.message = "sequence " + job.command.name + " was " +
                    (job.command.op == AdminCommand::Op::create ? "created" : "reset") + " (generation " +
                    std::to_string(job.generation) + "), but reading it back failed: " + error.message +
                    "; pez admin inspect " + job.command.name + " shows it";
  }
  finish(job, std::unexpected(std::move(error)));
}

void Admin::finish(Job& job, AdminResult result) {
  auto handler = std::move(job.handler);
  handler(std::move(result));
}

void Admin::start(Job job) {
  using Op = AdminCommand::Op;
  auto const op = job.command.op;
  if (op == Op::list || op == Op::inspect || job.read_back) {
    describe(std::move(job));
    return;
  }
  Change change;
  if (op == Op::create) {
    change.op = Change::Op::create;
    change.spec = *parse_create_spec(job.command.spec);
    change.name = change.spec.name;
  } else if (op == Op::reset) {
    change.op = Change::Op::reset;
    change.name = job.command.name;
    change.to = job.command.to;
  } else {
    change.op = Change::Op::drop;
    change.name = job.command.name;
  }
  ++m_running;
  if (op == Op::create) m_creating = true;
  m_store.change(change, [this, job = std::move(job)](ChangeResult result) mutable {
    --m_running;
    if (job.command.op == AdminCommand::Op::create) m_creating = false;
    // The sequence as it is now, read on the next free connection, before anything else: at
    // once when another connection is free, not after the catalog read this connection may be
    // given when it is offered again.
    if (changed(job, std::move(result))) m_queue.push_front(std::move(job));
    pump();  // and the creates that waited for this one
    if (!m_queue.empty()) arm_sweep();
  });
}

void Admin::start_creates(std::vector<Job> jobs) {
  std::vector<CreateSpec> specs;
  specs.reserve(jobs.size());
  for (auto const& job : jobs) specs.push_back(*parse_create_spec(job.command.spec));
  ++m_running;
  m_creating = true;
  m_store.create_many(specs, [this, jobs = std::move(jobs)](CreateManyResult result) mutable {
    --m_running;
    m_creating = false;
    if (result && result->size() != jobs.size()) {
      result = std::unexpected(unreadable_answer("pez.create_sequences with " + std::to_string(result->size()) +
                                                 " creates for " + std::to_string(jobs.size())));
    }
    // Each is read back before anything else, in the order they were asked.
    std::vector<Job> read_back;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto one = result ? std::move((*result)[i]) : ChangeResult(std::unexpected(result.error()));
      if (changed(jobs[i], std::move(one))) read_back.push_back(std::move(jobs[i]));
    }
    m_queue.insert(m_queue.begin(), std::make_move_iterator(read_back.begin()),
                   std::make_move_iterator(read_back.end()));
    pump();
    if (!m_queue.empty()) arm_sweep();
  });
}

bool Admin::changed(Job& job, ChangeResult result) {
  using Op = AdminCommand::Op;
  auto const& done = job.command;
  if (!result) {
    auto error = admin_error(done, result.error());
    finish(job, std::unexpected(std::move(error)));
    return false;
  }
  static constexpr char const* k_done[] = {"", "", "created", "reset", "dropped"};
  spdlog::info("sequence {} {} (generation {})", done.name, k_done[static_cast<int>(done.op)], *result);
  // This daemon need not wait for the notice: its reserve goes now.
  if (done.op == Op::drop) {
    m_allocator.sequence_dropped(done.name);
    ordered_json out;
    out["dropped"] = done.name;
    finish(job, AdminAnswer{200, json_line(out)});
    return false;
  }
  m_allocator.sequence_changed(done.name, *result);
  job.read_back = done.op == Op::create ? 201 : 200;
  job.generation = *result;
  job.deadline = m_clock.now() + m_timeout;
  return true;
}

void Admin::describe(Job job) {
  bool const all = job.command.op == AdminCommand::Op::list;
  std::string const name = all ? std::string() : job.command.name;  // before job moves into the handler
  ++m_running;
  m_store.describe(name, [this, job = std::move(job), all](DescribeResult result) mutable {
    --m_running;
    if (!result) {
      failed(job, admin_error(job.command, result.error(), advice_after(job.read_back.has_value())));
      return;
    }
    unsigned const status = job.read_back.value_or(200);
    if (all) {
      auto list = ordered_json::array();
      for (auto const& row : *result) {
        list.push_back(describe_row(row, m_allocator, m_block_default, m_store.usage()));
      }
      finish(job, AdminAnswer{status, json_line(list)});
      return;
    }
    if (result->size() != 1) {
      finish(job, std::unexpected(not_found(job.command.name)));
      return;
    }
    auto const one = describe_row(result->front(), m_allocator, m_block_default, m_store.usage());
    finish(job, AdminAnswer{status, json_line(one)});
  });
}

}  // namespace pez::daemon
