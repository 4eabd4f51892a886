// The seeded text mutator of the fuzz tests (config_fuzz_test, manifest_fuzz_test): byte flips,
// truncation, values swapped for other types, special numbers, long and non-ASCII strings, deep
// nesting, aliases, duplicated, dropped and re-indented lines, near-miss keys. Deterministic for a
// seed, so a failure names the seed that reproduces it.
#ifndef TANGRAM_TESTS_FOUNDATION_FUZZ_MUTATOR_H_
#define TANGRAM_TESTS_FOUNDATION_FUZZ_MUTATOR_H_

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "orchestrator/model/random.h"

namespace tangram {

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string Mutate(std::string text) {
    int rounds = 1 + static_cast<int>(Below(3));
    for (int i = 0; i < rounds; ++i) text = MutateOnce(std::move(text));
    return text;
  }

 private:
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_.Next() % n; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

  // Byte offsets of the value after a ": " (or a "- "), to swap types and numbers there.
  std::vector<std::pair<size_t, size_t>> Values(const std::string& text) {
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      if ((text[i] == ':' || text[i] == '-') && text[i + 1] == ' ') {
        size_t end = text.find_first_of("\n,}]", i + 2);
        if (end == std::string::npos) end = text.size();
        if (end > i + 2) out.push_back({i + 2, end});
      }
    }
    return out;
  }

  std::string MutateOnce(std::string text) {
    if (text.empty()) return "x";
    static const std::vector<std::string> kValues = {"",
                                                     "null",
                                                     "~",
                                                     "[]",
                                                     "{}",
                                                     "[1, 2]",
                                                     "{a: 1}",
                                                     "\"\"",
                                                     "true",
                                                     "no",
                                                     "-1",
                                                     "0",
                                                     "-0",
                                                     ".nan",
                                                     "NaN",
                                                     ".inf",
                                                     "-.inf",
                                                     "inf",
                                                     "1e308",
                                                     "-1e308",
                                                     "1e-320",
                                                     "4.9e-324",
                                                     "99999999999999999999",
                                                     "9223372036854775807",
                                                     "-9223372036854775808",
                                                     "1073741824",
                                                     "0x10",
                                                     "0o17",
                                                     "1_000",
                                                     "3.5",
                                                     "\"12\"",
                                                     "&x 5",
                                                     "*x",
                                                     "!!binary aGk=",
                                                     "? a",
                                                     "'",
                                                     "\"\\u0000\"",
                                                     "H200",
                                                     "auto",
                                                     "\xe2\x80\xae\xe2\x80\x8b",
                                                     "\xf0\x9f\x98\x80",
                                                     "\xc3\x28",
                                                     "\xed\xa0\x80",
                                                     std::string(300, 'n'),
                                                     std::string(5000, 'p')};
    const size_t pos = Below(text.size());
    switch (Below(12)) {
      case 0:  // flip a byte
        text[pos] = static_cast<char>(Below(256));
        return text;
      case 1:  // truncate
        return text.substr(0, pos);
      case 2:
      case 3:
      case 4: {  // swap a value for another type, a special number, a long or non-ASCII string
        auto values = Values(text);
        if (values.empty()) return text;
        auto [b, e] = Pick(values);
        return text.substr(0, b) + Pick(kValues) + text.substr(e);
      }
      case 5: {  // deep nesting
        size_t depth = 1 + Below(200);
        std::string open(depth, Below(2) ? '[' : '{');
        return text.substr(0, pos) + open + text.substr(pos);
      }
      case 6: {  // an alias bomb or a self-referencing alias at the top
        if (Below(2)) {
          std::string bomb = "z0: &z0 [1, 1, 1, 1, 1, 1, 1, 1]\n";
          for (int i = 1; i < 9; ++i) {
            std::string p = absl::StrCat("*z", i - 1);
            bomb += absl::StrCat("z", i, ": &z", i, " [", p, ", ", p, ", ", p, ", ", p, ", ", p,
                                 ", ", p, ", ", p, ", ", p, "]\n");
          }
          return bomb + text;
        }
        auto values = Values(text);
        if (values.empty()) return text;
        auto [b, e] = Pick(values);
        std::string anchored = text.substr(0, b) + "&a " + text.substr(b);
        return anchored + "\nalias_use: *a\n";
      }
      case 7: {  // duplicate a line
        size_t start = text.rfind('\n', pos);
        start = start == std::string::npos ? 0 : start + 1;
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        return text.substr(0, end) + "\n" + line + text.substr(end);
      }
      case 8: {  // drop a line
        size_t start = text.rfind('\n', pos);
        start = start == std::string::npos ? 0 : start + 1;
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        return text.substr(0, start) + text.substr(std::min(text.size(), end + 1));
      }
      case 9:  // insert unicode or control bytes
        return text.substr(0, pos) +
               Pick(std::vector<std::string>{"\xe2\x80\xae", "\xc3\xa9", "\t", "\r", "\x01",
                                             "\xef\xbb\xbf", "\xf4\x90\x80\x80", "\n  - "}) +
               text.substr(pos);
      case 10: {  // indent or dedent a line
        size_t start = text.rfind('\n', pos);
        start = start == std::string::npos ? 0 : start + 1;
        if (Below(2)) return text.substr(0, start) + "  " + text.substr(start);
        return text.substr(0, start) + text.substr(std::min(text.size(), start + 2));
      }
      default: {  // replace a key with a near miss
        auto values = Values(text);
        if (values.empty()) return text;
        size_t colon = Pick(values).first - 2;
        if (text[colon] != ':' || colon == 0) return text;
        return text.substr(0, colon) + Pick(std::vector<std::string>{"x", "_", "s", ""}) +
               text.substr(colon);
      }
    }
  }

  train::Rng rng_;
};

namespace fuzzing {
// The whole file, bytes as they are ("" when it cannot be read): the fuzz tests' seeds and logs.
inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace fuzzing

}  // namespace tangram

#endif  // TANGRAM_TESTS_FOUNDATION_FUZZ_MUTATOR_H_
