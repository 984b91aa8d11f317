// SPDX-License-Identifier: Apache-2.0
#include "common/settings.hpp"

#include <unistd.h>

#include <cstdlib>
#include <set>

#include "common/count.hpp"
#include "common/text.hpp"

namespace pez::settings {

std::string_view source_name(Source source) {
  switch (source) {
    case Source::default_value:
      return "default";
    case Source::file:
      return "file";
    case Source::env:
      return "env";
    case Source::flag:
      return "flag";
    case Source::credential:
      return "systemd credential";
  }
  return "default";
}

std::string Spec::flag() const {
  std::string out = "--";
  for (char c : key) out += c == '_' ? '-' : c;
  return out;
}

std::string Spec::env() const {
  std::string out = "PEZ_";
  for (char c : key) out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

namespace {

// The value after '=': "quoted" (with \" and \\ escapes) or bare, either followed by an optional
// comment: a '#' at the start of the value or after a space or tab.
std::expected<std::string, std::string> config_value(std::string_view text) {
  text = trim(text);
  if (!text.starts_with('"')) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
        return std::string(trim(text.substr(0, i)));
      }
    }
    return std::string(text);
  }
  std::string value;
  std::size_t i = 1;
  for (; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) ++i;
    value += text[i];
  }
  if (i == text.size()) return std::unexpected("the double quote before " + quote_untrusted(value) + " is not closed");
  auto const rest = trim(text.substr(i + 1));
  if (!rest.empty() && rest.front() != '#') {
    return std::unexpected("unexpected " + quote_untrusted(rest) +
                           " after the closing double quote; a comment starts with '#'");
  }
  return value;
}

}  // namespace

std::expected<std::vector<FileEntry>, std::string> parse_config_text(std::string_view text, std::string_view path) {
  std::vector<FileEntry> entries;
  int number = 0;
  for (auto raw : split(text, '\n')) {
    ++number;
    auto const where = std::string(path) + ":" + std::to_string(number);
    auto line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    auto const eq = line.find('=');
    if (eq == std::string_view::npos) {
      return std::unexpected(where + ": expected \"key = value\", got " + quote_untrusted(line));
    }
    auto key = trim(line.substr(0, eq));
    if (key.empty()) return std::unexpected(where + ": a setting name is missing before '='");
    auto value = config_value(line.substr(eq + 1));
    if (!value) return std::unexpected(where + ": " + value.error());
    entries.push_back(FileEntry{std::string(key), std::move(*value), number});
  }
  return entries;
}

std::string config_text_value(std::string_view value) {
  bool const quote = value.empty() || value != trim(value) || value.find_first_of("\"#") != std::string_view::npos;
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::vector<std::string> process_env_names(std::string_view prefix) {
  std::vector<std::string> names;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view const text = *entry;
    auto const name = text.substr(0, text.find('='));
    if (name.starts_with(prefix)) names.emplace_back(name);
  }
  return names;
}

std::string wrap_text(std::string_view text, std::size_t width, std::size_t indent, std::string first) {
  std::string out;
  std::string line = std::move(first);
  if (line.size() < indent) line.resize(indent, ' ');
  bool empty = true;
  for (auto word : split(text, ' ')) {
    if (word.empty()) continue;
    if (!empty && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = std::string(indent, ' ');
      empty = true;
    }
    if (!empty) line += ' ';
    line += word;
    empty = false;
  }
  return out + line + "\n";
}

std::string help_columns(std::vector<std::pair<std::string, std::string>> const& rows, std::size_t width) {
  constexpr std::size_t column = 26;  // where descriptions start
  std::string out;
  for (auto const& [label, text] : rows) {
    std::string first = "  " + label;
    if (first.size() + 2 > column) {
      out += first + "\n";  // a long label has its description on the next lines
      first.clear();
    }
    out += wrap_text(text, width, column, std::move(first));
  }
  return out;
}

EnvLookup process_env() {
  return [](std::string const& name) -> std::optional<std::string> {
    if (char const* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
  };
}

std::expected<std::map<std::string, Origin>, std::string> resolve(std::vector<Spec> const& specs,
                                                                  std::map<std::string, std::string> const& flags,
                                                                  EnvLookup const& env,
                                                                  std::vector<FileEntry> const& file,
                                                                  std::string_view file_path) {
  std::set<std::string> known;
  for (auto const& spec : specs) known.insert(spec.key);
  std::map<std::string, FileEntry const*> from_file;
  for (auto const& entry : file) {
    if (!known.contains(entry.key)) {
      return std::unexpected(std::string(file_path) + ":" + std::to_string(entry.line) + ": unknown setting " +
                             quote_untrusted(entry.key) + "; pezd.conf(5) lists the settings");
    }
    from_file[entry.key] = &entry;  // a later line wins, as in most config files
  }

  std::map<std::string, Origin> origins;
  for (auto const& spec : specs) {
    Origin origin{Source::default_value, "default", spec.default_text};
    if (auto it = from_file.find(spec.key); it != from_file.end()) {
      origin = {Source::file, std::string(file_path) + ":" + std::to_string(it->second->line), it->second->value};
    }
    if (auto value = env(spec.env())) origin = {Source::env, spec.env(), *value};
    if (auto it = flags.find(spec.key); it != flags.end()) origin = {Source::flag, spec.flag(), it->second};

    if (origin.source != Source::default_value || !origin.text.empty()) {
      if (auto ok = spec.apply(origin.text); !ok) {
        auto const shown = spec.secret ? std::string("(hidden)") : quote_untrusted(origin.text);
        return std::unexpected("invalid value " + shown + " for setting " + spec.key + " (from " + origin.where +
                               "): " + ok.error());
      }
    }
    origins.emplace(spec.key, std::move(origin));
  }
  return origins;
}

std::expected<std::int64_t, std::string> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) {
  auto const value = parse_int64(trim(text));
  if (!value || *value < min || *value > max) {
    return std::unexpected("expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return *value;
}

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text,
                                                                     std::chrono::milliseconds min,
                                                                     std::chrono::milliseconds max) {
  auto const expected = "expected a duration from " + format_duration(min) + " to " + format_duration(max) +
                        " such as 500ms, 5s, 2m or 1h";
  text = trim(text);
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  auto const number = text.substr(0, digits);
  auto const unit = text.substr(digits);
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m" || unit == "min")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return std::unexpected(expected);
  if (number.empty() || number.find('.') != number.rfind('.') || number == ".") return std::unexpected(expected);
  char* end = nullptr;
  std::string const copy(number);
  double const value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::unexpected(expected);
  double const ms = value * scale;
  if (ms < static_cast<double>(min.count()) || ms > static_cast<double>(max.count())) {
    return std::unexpected(expected);
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::expected<std::string, std::string> parse_choice(std::string_view text,
                                                     std::vector<std::string_view> const& choices) {
  for (auto choice : choices) {
    if (text == choice) return std::string(text);
  }
  std::string list;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) list += i + 1 == choices.size() ? " or " : ", ";
    list += choices[i];
  }
  return std::unexpected("expected " + list);
}

std::string format_duration(std::chrono::milliseconds value) {
  auto const ms = value.count();
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace pez::settings
