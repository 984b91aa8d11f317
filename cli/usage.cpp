// SPDX-License-Identifier: Apache-2.0
#include "cli/usage.hpp"

#include <algorithm>

#include "common/count.hpp"
#include "common/suggest.hpp"
#include "common/text.hpp"

namespace pez::cli {
namespace {

std::vector<CLI::App const*> commands_of(CLI::App const& app) { return app.get_subcommands({}); }

CLI::App const* command_named(CLI::App const& app, std::string const& name) {
  for (auto const* sub : commands_of(app)) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

std::vector<std::string> command_names(CLI::App const& app) {
  std::vector<std::string> out;
  for (auto const* sub : commands_of(app)) out.push_back(sub->get_name());
  return out;
}

// "forward, reverse, next, admin, status and help"
std::string listed(std::vector<std::string> const& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

// "pez admin reset"
std::string path_of(std::vector<CLI::App const*> const& chain) {
  std::string out;
  for (auto const* app : chain) out += (out.empty() ? "" : " ") + app->get_name();
  return out;
}

// "pez help admin reset"
std::string help_hint(std::vector<CLI::App const*> const& chain) {
  std::string out = "pez help";
  for (std::size_t i = 1; i < chain.size(); ++i) out += " " + chain[i]->get_name();
  return out;
}

// An option of the command or of the commands it belongs to (their options are taken after it).
CLI::Option const* find_option(std::vector<CLI::App const*> const& chain, std::string const& name) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (auto const* option : (*it)->get_options()) {
      if (option->get_positional()) continue;
      for (auto const& l : option->get_lnames()) {
        if (name == "--" + l) return option;
      }
      for (auto const& s : option->get_snames()) {
        if (name == "-" + s) return option;
      }
    }
  }
  return nullptr;
}

std::vector<std::string> option_names(std::vector<CLI::App const*> const& chain) {
  std::vector<std::string> out;
  for (auto const* app : chain) {
    for (auto const* option : app->get_options()) {
      for (auto const& l : option->get_lnames()) out.push_back("--" + l);
      for (auto const& s : option->get_snames()) out.push_back("-" + s);
    }
  }
  return out;
}

std::vector<CLI::Option const*> positionals_of(CLI::App const& app) {
  std::vector<CLI::Option const*> out;
  for (auto const* option : app.get_options()) {
    if (option->get_positional()) out.push_back(option);
  }
  return out;
}

// What CLI11 takes after "--flag=".
bool is_flag_value(std::string const& text) {
  for (auto const* value : {"true", "false", "1", "0", "yes", "no", "on", "off"}) {
    if (text == value) return true;
  }
  return false;
}

bool is_option(std::string const& arg) { return arg.size() > 1 && arg[0] == '-' && arg != "--"; }

}  // namespace

std::string usage_message(CLI::App const& app, std::vector<std::string> const& args, std::string const& fallback) {
  std::vector<CLI::App const*> chain{&app};
  std::size_t positional = 0;
  bool only_positionals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto const& arg = args[i];
    CLI::App const& current = *chain.back();
    if (!only_positionals && arg == "--") {
      only_positionals = true;
      continue;
    }
    if (!only_positionals && is_option(arg)) {
      bool const long_form = arg.starts_with("--");
      auto const eq = arg.find('=');
      std::string const name = long_form ? arg.substr(0, eq) : arg.substr(0, 2);
      bool const value_attached = long_form ? eq != std::string::npos : arg.size() > 2;
      auto const* option = find_option(chain, name);
      if (option == nullptr) {
        return "unknown option " + quote_untrusted(name) + " for " + path_of(chain) +
               did_you_mean(name, option_names(chain)) + " (" + help_hint(chain) + " lists the options)";
      }
      bool const takes_value = option->get_expected_max() > 0;
      if (takes_value && !value_attached) {
        if (i + 1 == args.size()) {
          return "option " + name + " needs a value, such as " + name + " " + option->get_type_name() + " (" +
                 help_hint(chain) + ")";
        }
        ++i;
      } else if (!takes_value && value_attached && (!long_form || !is_flag_value(arg.substr(eq + 1)))) {
        return "option " + name + " takes no value, got " + quote_untrusted(arg) + " (" + help_hint(chain) + ")";
      }
      continue;
    }
    if (!only_positionals) {
      if (auto const* sub = command_named(current, arg)) {
        chain.push_back(sub);
        positional = 0;
        continue;
      }
    }
    auto const positionals = positionals_of(current);
    if (positional < positionals.size()) {
      if (positionals[positional]->get_items_expected_max() == 1) ++positional;  // else it takes every word
      continue;
    }
    auto const names = command_names(current);
    if (!names.empty()) {
      auto const where = chain.size() == 1 ? std::string() : " for " + path_of(chain);
      return "unknown command " + quote_untrusted(arg) + where + did_you_mean(arg, names) + " (" + help_hint(chain) +
             " lists the commands)";
    }
    std::string hint;
    std::uint64_t number = 0;
    if (find_option(chain, "-n") != nullptr && parse_decimal(arg, number))
      hint = "; for " + arg + " numbers, use -n " + arg;
    return "unexpected argument " + quote_untrusted(arg) + " for " + path_of(chain) + hint + " (" + help_hint(chain) +
           " shows how to use it)";
  }
  CLI::App const& last = *chain.back();
  {
    if (last.get_require_subcommand_min() > 0) {
      auto const names = command_names(last);
      if (chain.size() == 1) return "no command given; the commands are " + listed(names) + " (pez help)";
      return path_of(chain) + " needs a command: " + listed(names) + " (" + help_hint(chain) + ")";
    }
    auto const positionals = positionals_of(last);
    for (std::size_t i = positional; i < positionals.size(); ++i) {
      if (positionals[i]->get_required()) {
        auto description = positionals[i]->get_description();
        if (!description.empty() && description[0] >= 'A' && description[0] <= 'Z') description[0] += 'a' - 'A';
        return path_of(chain) + " needs " + positionals[i]->get_name() + ", " + description + " (" + help_hint(chain) +
               ")";
      }
    }
  }
  return fallback + " (" + help_hint(chain) + ")";
}

std::expected<std::string, std::string> help_for(CLI::App const& app, std::vector<std::string> const& words) {
  std::vector<CLI::App const*> chain{&app};
  for (auto const& word : words) {
    auto const* sub = command_named(*chain.back(), word);
    if (sub == nullptr) {
      auto const names = command_names(*chain.back());
      if (names.empty()) {
        return std::unexpected(path_of(chain) + " has no commands; " + help_hint(chain) + " shows its help");
      }
      auto const where = chain.size() == 1 ? std::string() : " for " + path_of(chain);
      return std::unexpected("unknown command " + quote_untrusted(word) + where + did_you_mean(word, names) + " (" +
                             help_hint(chain) + " lists the commands)");
    }
    chain.push_back(sub);
  }
  // The formatter, not App::help(): that would show the help of the command being run (help).
  return chain.back()->get_formatter()->make_help(chain.back(), path_of(chain), CLI::AppFormatMode::Normal);
}

}  // namespace pez::cli
