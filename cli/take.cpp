// SPDX-License-Identifier: Apache-2.0
#include "cli/take.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "cli/client.hpp"
#include "common/count.hpp"
#include "common/names.hpp"
#include "common/protocol.hpp"
#include "common/settings.hpp"
#include "common/stdio.hpp"
#include "common/text.hpp"

namespace pez::cli {

void default_socket(Globals& globals) {
  if (char const* env = std::getenv("PEZ_SOCKET"); env != nullptr && *env != '\0') {
    globals.socket = env;
    globals.socket_from = "PEZ_SOCKET";
  } else {
    globals.socket = proto::k_default_socket_path;
    globals.socket_from = "default";
  }
}

Outcome take_numbers(Globals const& globals, NumberOptions const& options) {
  if (auto ok = check_sequence_name(options.name); !ok) return std::unexpected(Failure{k_exit_usage, ok.error()});
  std::uint64_t count = 0;
  if (!parse_decimal(options.count, count) || count < 1 || count > 0xffffffffULL) {
    return std::unexpected(Failure{k_exit_usage, count_error(options.count, "pezd's max_count")});
  }
  auto timeout = settings::parse_duration(globals.timeout, std::chrono::milliseconds(1), std::chrono::hours(1));
  if (!timeout) return std::unexpected(Failure{k_exit_usage, "--timeout: " + timeout.error()});
  if (globals.stdout_closed) {
    return std::unexpected(Failure{k_exit_failure,
                                   "standard output is closed, so the numbers would be lost; none were taken "
                                   "(redirect it to a file, or to /dev/null to throw numbers away)"});
  }

  Client client(globals.socket, *timeout);
  auto answers = client.exchange({proto::next_line(options.name, static_cast<std::uint32_t>(count), options.json)});
  if (!answers) return std::unexpected(answers.error());

  // pezd's words, as they are: bare numbers, or a formatted sequence's strings; with --json the
  // /v2 list pezd wrote (strings for a formatted sequence).
  auto const& payload = answers->front();
  auto const words = proto::answer_words(payload);
  bool const readable = options.json ? payload.starts_with('[') && payload.ends_with(']') : words.size() == count;
  if (!readable) {
    return std::unexpected(
        Failure{k_exit_failure, "pezd sent an answer this pez cannot read: " + quote_untrusted(payload)});
  }
  std::string out;
  if (options.json) {
    out = payload + "\n";
  } else {
    for (auto word : words) {
      out += word;
      out += '\n';
    }
  }
  if (auto written = write_stdout(out); !written) {
    std::string const taken =
        count == 1 ? "the number taken is" : "the " + std::to_string(count) + " numbers taken are";
    return std::unexpected(Failure{k_exit_failure, "cannot write the numbers to standard output: " + written.error() +
                                                       "; " + taken +
                                                       " lost (never handed out again); take new ones "
                                                       "once standard output can be written"});
  }
  return {};
}

namespace {

bool command_word(std::string_view word) {
  for (std::string_view const command : k_command_names) {
    if (word == command) return true;
  }
  return false;
}

// The options of a plain take, each allowed once.
enum class Option : std::uint8_t { socket, timeout, count, json, options };

// The value of an option: after '=' in the same word, or the next word. Empty when there is
// none, or when it is empty or starts with '-' (CLI11 may read such a word as an option), or
// when the next word is a command's.
std::string_view option_value(std::string_view word, int argc, char const* const* argv, int& i) {
  if (auto const eq = word.find('='); eq != std::string_view::npos) {
    auto const value = word.substr(eq + 1);
    return value.starts_with('-') ? std::string_view() : value;
  }
  if (i + 1 >= argc) return {};
  std::string_view const value = argv[++i];
  return value.starts_with('-') || command_word(value) ? std::string_view() : value;
}

}  // namespace

std::optional<PlainTake> parse_plain_take(int argc, char const* const* argv) {
  PlainTake take;
  default_socket(take.globals);
  std::string_view command;
  bool has_name = false;
  std::array<bool, static_cast<std::size_t>(Option::options)> seen{};
  auto once = [&seen](Option which) { return !std::exchange(seen[static_cast<std::size_t>(which)], true); };
  for (int i = 1; i < argc; ++i) {
    std::string_view const word = argv[i];
    std::string_view const key = word.substr(0, word.find('='));
    if (key == "--socket" || key == "--timeout" || key == "--count" || (word == "-n")) {
      bool const count = key == "--count" || word == "-n";
      if (count && command.empty()) return std::nullopt;  // an option of the commands, not of pez
      Option const option = count ? Option::count : key == "--socket" ? Option::socket : Option::timeout;
      if (!once(option)) return std::nullopt;
      auto const value = option_value(word, argc, argv, i);
      if (value.empty()) return std::nullopt;
      if (option == Option::count) {
        take.options.count = value;
      } else if (option == Option::socket) {
        take.globals.socket = value;
        take.globals.socket_from = "--socket";
      } else {
        take.globals.timeout = value;
      }
    } else if (word == "--json") {
      if (command.empty() || !once(Option::json)) return std::nullopt;
      take.options.json = true;
    } else if (command.empty() && (word == "forward" || word == "reverse" || word == "next")) {
      command = word;
      if (command != "next") take.options.name = word;
    } else if (command == "next" && !has_name && !word.starts_with('-') && !command_word(word)) {
      take.options.name = word;
      has_name = true;
    } else {
      return std::nullopt;
    }
  }
  if (command.empty() || (command == "next" && !has_name)) return std::nullopt;
  return take;
}

int report(Outcome const& outcome) {
  if (outcome) return k_exit_ok;
  // An empty message: the exit status is the whole answer (pez check --quiet).
  // The message may quote pezd, which may quote the database: shown without control characters.
  if (!outcome.error().message.empty())
    std::fprintf(stderr, "pez: error: %s\n", printable(outcome.error().message).c_str());
  return outcome.error().exit_code;
}

}  // namespace pez::cli
