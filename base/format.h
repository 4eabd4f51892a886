// Number formats shared by every report, so that one quantity reads the same everywhere.
#ifndef TANGRAM_BASE_FORMAT_H_
#define TANGRAM_BASE_FORMAT_H_

#include <cmath>
#include <string>

#include "absl/strings/str_format.h"

namespace tangram {

// A count for people: "950", "231.06 K", "1.47 M", "6.74 B" (powers of 1,000). Every throughput
// (tokens/s) and parameter count is printed this way.
inline std::string HumanCount(double value) {
  const char* units[] = {"", " K", " M", " B", " T", " P", " E"};
  int u = 0;
  while (std::abs(value) >= 1000 && u < 6) {
    value /= 1000;
    ++u;
  }
  return absl::StrFormat(u == 0 ? "%.0f%s" : "%.2f%s", value, units[u]);
}

// A rate with `digits` after the point ("989", "189.2"), or three significant figures below 1, so
// that a CPU fleet's 0.0297 TFLOP/s does not print as "0" or "0.0".
inline std::string RateText(double value, int digits) {
  if (value == 0 || std::abs(value) >= 1) return absl::StrFormat("%.*f", digits, value);
  return absl::StrFormat("%.3g", value);
}

}  // namespace tangram

#endif  // TANGRAM_BASE_FORMAT_H_
