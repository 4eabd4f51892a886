// Names at the edges: every enum that a config, a plan file or a command line spells as a word
// (strategy, pipeline schedule, collective algorithm and op, data type, ...) is parsed here, once,
// with one error format and one "did you mean" for all of them.
//
// Header-only and pure; safe from any thread.
#ifndef TANGRAM_BASE_NAMES_H_
#define TANGRAM_BASE_NAMES_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace tangram {

// Levenshtein distance between `a` and `b`.
inline size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "did you mean \"auto\"? " when one of `known` is within two edits of `value` (or equal but for
// case); "" otherwise. Values past 64 characters get no suggestion (the distance is quadratic).
template <typename Names>
std::string DidYouMean(absl::string_view value, const Names& known) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& k : known) {
    size_t d = value.size() > 64 ? 99 : EditDistance(value, k);
    if (absl::EqualsIgnoreCase(value, k)) d = 0;
    if (d < best_distance) {
      best_distance = d;
      best = std::string(k);
    }
  }
  return best.empty() ? "" : absl::StrCat("did you mean \"", best, "\"? ");
}

// kInvalidArgument: `unknown <what> "<name>" (known: a, b, c)`, then `; did you mean "a"?` when a
// known name is close.
template <typename Names>
absl::Status UnknownNameError(absl::string_view what, absl::string_view name, const Names& known) {
  const std::string hint = DidYouMean(name, known);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", what, " \"", name, "\" (known: ", absl::StrJoin(known, ", "), ")",
                   hint.empty() ? "" : absl::StrCat("; ", hint.substr(0, hint.size() - 1))));
}

// The names of `values`, in order (for help texts, YAML enum checks and error messages).
template <typename Enum, size_t N>
std::vector<std::string> EnumNames(const Enum (&values)[N], absl::string_view (*to_name)(Enum)) {
  std::vector<std::string> names;
  for (Enum value : values) names.emplace_back(to_name(value));
  return names;
}

// The value among `values` whose to_name is `name`, else UnknownNameError(what, ...).
template <typename Enum, size_t N>
absl::StatusOr<Enum> ParseEnumName(absl::string_view what, absl::string_view name,
                                   const Enum (&values)[N], absl::string_view (*to_name)(Enum)) {
  for (Enum value : values) {
    if (to_name(value) == name) return value;
  }
  return UnknownNameError(what, name, EnumNames(values, to_name));
}

}  // namespace tangram

#endif  // TANGRAM_BASE_NAMES_H_
