// SPDX-License-Identifier: Apache-2.0
// "Did you mean ...?": the known word closest to a mistyped one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pez {

// The candidate a typo of word most likely meant: one a letter or two away (a letter added,
// dropped, changed, or two swapped; two only for words of six letters or more), or one that word
// begins (of two letters or more), when exactly one candidate is closest. Nothing otherwise.
std::optional<std::string> closest(std::string_view word, std::vector<std::string> const& candidates);

// " did you mean "x"?" for closest(), or nothing; for the end of a message.
std::string did_you_mean(std::string_view word, std::vector<std::string> const& candidates);

}  // namespace pez
