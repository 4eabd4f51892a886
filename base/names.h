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
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace tangram {

// A name as a std::string_view, whichever way an enum's Name function returns it.
inline std::string_view AsNameView(std::string_view s) { return s; }
inline std::string_view AsNameView(const char* s) { return s; }
inline std::string_view AsNameView(const std::string& s) { return s; }
#ifndef ABSL_USES_STD_STRING_VIEW
inline std::string_view AsNameView(absl::string_view s) { return {s.data(), s.size()}; }
#endif

// Levenshtein distance between `a` and `b`.
inline size_t EditDistance(std::string_view a, std::string_view b) {
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
// case); "" otherwise. A value of three or more characters that one to three known names contain
// (case aside) names those instead, since a shortened product name is the likelier slip than a
// typo ("A100" is one edit from "H100" but means "A100-80G" or "A100-40G"; "910B" means
// "Ascend910B"). Values past 64 characters get no suggestion (the distance is quadratic).
template <typename Names>
std::string DidYouMean(std::string_view value, const Names& known) {
  const std::string lower = absl::AsciiStrToLower({value.data(), value.size()});
  std::vector<std::string> containing;
  std::string best;
  size_t best_distance = 3;
  for (const auto& name : known) {
    const std::string_view k = AsNameView(name);
    if (value.size() >= 3 && k.size() > value.size() &&
        absl::StrContains(absl::AsciiStrToLower({k.data(), k.size()}), lower)) {
      containing.emplace_back(k);
    }
    size_t d = value.size() > 64 ? 99 : EditDistance(value, k);
    if (absl::EqualsIgnoreCase({value.data(), value.size()}, {k.data(), k.size()})) d = 0;
    if (d < best_distance) {
      best_distance = d;
      best = std::string(k);
    }
  }
  if (best_distance > 0 && !containing.empty() && containing.size() <= 3) {
    return absl::StrCat("did you mean \"", absl::StrJoin(containing, "\" or \""), "\"? ");
  }
  return best.empty() ? "" : absl::StrCat("did you mean \"", best, "\"? ");
}

// kInvalidArgument: `unknown <what> "<name>" (known: a, b, c)`, then `; did you mean "a"?` when a
// known name is close.
template <typename Names>
absl::Status UnknownNameError(std::string_view what, std::string_view name, const Names& known) {
  const std::string hint = DidYouMean(name, known);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", std::string(what), " \"", std::string(name),
                   "\" (known: ", absl::StrJoin(known, ", "), ")",
                   hint.empty() ? "" : absl::StrCat("; ", hint.substr(0, hint.size() - 1))));
}

// The names of `values`, in order (for help texts, YAML enum checks and error messages).
// `to_name` maps a value to its name (a const char*, std::string_view or absl::string_view).
template <typename Enum, size_t N, typename ToName>
std::vector<std::string> EnumNames(const Enum (&values)[N], ToName to_name) {
  std::vector<std::string> names;
  for (Enum value : values) {
    names.emplace_back(AsNameView(to_name(value)));
  }
  return names;
}

// The value among `values` whose to_name is `name`, else UnknownNameError(what, ...).
template <typename Enum, size_t N, typename ToName>
absl::StatusOr<Enum> ParseEnumName(std::string_view what, std::string_view name,
                                   const Enum (&values)[N], ToName to_name) {
  for (Enum value : values) {
    if (AsNameView(to_name(value)) == name) return value;
  }
  return UnknownNameError(what, name, EnumNames(values, to_name));
}

}  // namespace tangram

#endif  // TANGRAM_BASE_NAMES_H_
