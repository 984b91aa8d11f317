// SPDX-License-Identifier: Apache-2.0
#include "common/suggest.hpp"

#include <algorithm>

namespace pez {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours, each costing one.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t const cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::optional<std::string> closest(std::string_view word, std::vector<std::string> const& candidates) {
  // The meaningful part of an option or a variable, so that "--x" is not one letter from "-n".
  auto core = [](std::string_view w) {
    while (w.starts_with('-')) w.remove_prefix(1);
    if (w.starts_with("PEZ_")) w.remove_prefix(4);
    return w.size();
  };
  std::size_t const allowed = core(word) >= 6 ? 2 : 1;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  bool tie = false;
  for (auto const& candidate : candidates) {
    auto d = distance(word, candidate);
    if (core(word) >= 2 && candidate.size() > word.size() && candidate.starts_with(word))
      d = std::min<std::size_t>(d, 1);
    if (d == 0 || d >= core(word) || d > allowed) continue;
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
      tie = false;
    } else if (d == best_distance && candidate != *best) {
      tie = true;
    }
  }
  if (tie) return std::nullopt;
  return best;
}

std::string did_you_mean(std::string_view word, std::vector<std::string> const& candidates) {
  auto const best = closest(word, candidates);
  return best ? "; did you mean \"" + *best + "\"?" : std::string();
}

}  // namespace pez
