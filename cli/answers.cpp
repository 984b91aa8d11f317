// SPDX-License-Identifier: Apache-2.0
#include "cli/answers.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/client.hpp"
#include "common/json_line.hpp"
#include "common/settings.hpp"
#include "common/stdio.hpp"
#include "common/text.hpp"

namespace pez::cli {

using nlohmann::json;

Outcome write_out(std::string const& text) {
  if (auto written = write_stdout(text); !written) {
    return std::unexpected(Failure{k_exit_failure, "cannot write to standard output: " + written.error()});
  }
  return {};
}

std::expected<json, Failure> ask(Globals const& globals, std::string const& line) {
  auto timeout = settings::parse_duration(globals.timeout, std::chrono::milliseconds(1), std::chrono::hours(1));
  if (!timeout) return std::unexpected(Failure{k_exit_usage, "--timeout: " + timeout.error()});
  Client client(globals.socket, *timeout);
  auto answers = client.exchange({line});
  if (!answers) return std::unexpected(answers.error());
  json value = json::parse(answers->front(), nullptr, false);
  if (value.is_discarded()) return std::unexpected(Failure{k_exit_failure, "pezd sent an answer this pez cannot read"});
  return value;
}

std::string text_of(json const& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return printable(v.get_ref<std::string const&>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", v.get<double>() * 100);
    return buf;
  }
  return json_line(v);
}

namespace {

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

}  // namespace

std::string table(std::vector<std::vector<std::string>> const& rows) {
  std::vector<std::size_t> widths;
  for (auto const& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (auto const& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) line += i + 1 == row.size() ? row[i] : pad(row[i], widths[i] + 2);
    out += line + "\n";
  }
  return out;
}

}  // namespace pez::cli
