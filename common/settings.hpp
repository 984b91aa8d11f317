// SPDX-License-Identifier: Apache-2.0
// Settings declared once and read from three places: a command-line flag beats an environment
// variable, which beats the config file, which beats the default (DESIGN §6). A setting's flag
// and variable are derived from its key: max_count is --max-count and PEZ_MAX_COUNT.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pez::settings {

enum class Source { default_value, file, env, flag, credential };
std::string_view source_name(Source source);

// Parses the text of a setting and stores it; the error says what is expected.
using Apply = std::function<std::expected<void, std::string>(std::string_view text)>;

struct Spec {
  std::string key;           // config-file key, e.g. "max_count"
  std::string default_text;  // as it would be written in the file; empty means unset
  std::string value_name;    // for help: N, ADDR, DURATION, PATH
  std::string doc;           // one sentence
  Apply apply;
  bool has_flag = true;  // secrets have none, so they never show in ps(1)
  bool secret = false;   // masked when printed
  // How the value is shown by --print-config when it may hold a secret (database_url).
  std::function<std::string(std::string_view)> mask = nullptr;
  std::string group = {};  // the section of pezd.conf(5) and --help it belongs to

  std::string flag() const;  // --max-count
  std::string env() const;   // PEZ_MAX_COUNT
};

// Where each setting's value came from, for diagnostics and --print-config.
struct Origin {
  Source source;
  std::string where;  // "--max-count", "PEZ_MAX_COUNT", "/etc/pez/pezd.conf:12", "default"
  std::string text;

  bool operator==(Origin const&) const = default;
};

struct FileEntry {
  std::string key;
  std::string value;
  int line;
};

// Reads "key = value" lines. '#' starts a comment at the start of a line, at the start of a
// value or after a space or tab; a value may be in double quotes (then \" is a quote and \\ a
// backslash), and a comment may follow it.
std::expected<std::vector<FileEntry>, std::string> parse_config_text(std::string_view text, std::string_view path);
// A value as a config file line writes it, so that parse_config_text reads it back unchanged:
// bare when it can be, else in double quotes.
std::string config_text_value(std::string_view value);

using EnvLookup = std::function<std::optional<std::string>(std::string const& name)>;
EnvLookup process_env();
// The names of this process's environment variables that start with prefix.
std::vector<std::string> process_env_names(std::string_view prefix);

// Text wrapped at spaces to lines of at most width columns (a longer word stands alone), every
// line but the first indented: the first starts with first, padded to indent.
std::string wrap_text(std::string_view text, std::size_t width, std::size_t indent = 0, std::string first = {});
// Options and their descriptions, two columns, within width columns.
std::string help_columns(std::vector<std::pair<std::string, std::string>> const& rows, std::size_t width);

// Resolves every spec from flags (key -> text), the environment and the file entries, applying
// each value in precedence order. An unknown key in the file or a bad value is an error naming
// the setting and where the value came from.
std::expected<std::map<std::string, Origin>, std::string> resolve(std::vector<Spec> const& specs,
                                                                  std::map<std::string, std::string> const& flags,
                                                                  EnvLookup const& env,
                                                                  std::vector<FileEntry> const& file,
                                                                  std::string_view file_path);

// Value parsers for Spec::apply.
std::expected<std::int64_t, std::string> parse_integer(std::string_view text, std::int64_t min, std::int64_t max);
// "5s", "250ms", "2m", "1h" or a plain number of seconds ("0.5").
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text,
                                                                     std::chrono::milliseconds min,
                                                                     std::chrono::milliseconds max);
std::expected<std::string, std::string> parse_choice(std::string_view text,
                                                     std::vector<std::string_view> const& choices);
std::string format_duration(std::chrono::milliseconds value);

}  // namespace pez::settings
