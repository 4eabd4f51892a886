// The collective correctness suite shared by the sim tests and the mpirun tests: every op ×
// dtype × size on one communicator, checked against a serial reference.
//
// Inputs are small integers, v(r, i) = ((3r + 7i) mod 5) - 2, so every partial sum is exact in
// every type (bf16 holds integers up to 256 exactly; |sum| <= 2p <= 128 up to 64 ranks) and the
// reference for element i depends only on 7i mod 5: it is computed once per residue by a serial
// loop over the ranks, which keeps the check O(n) even at 2^20+3 elements on 64 ranks.
// Tolerances: exact for sum/max/min; for avg the reference rounds sum/p to the type once, as the
// algorithms do, and the check allows 2^-7 relative for bf16, 2^-10 for f16 and 1e-6 for f32/f64.
#ifndef TANGRAM_TESTS_COLLECTIVES_COLLECTIVE_SUITE_H_
#define TANGRAM_TESTS_COLLECTIVES_COLLECTIVE_SUITE_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "collectives/communicator.h"
#include "collectives/types.h"

namespace tangram::collectives::testing {

inline constexpr size_t kLargeCount = (size_t{1} << 20) + 3;

struct SuiteOptions {
  std::vector<size_t> sizes = {0, 1, 7, 1023, kLargeCount};
  std::vector<DataType> types = {std::begin(kAllDataTypes), std::end(kAllDataTypes)};
  // Below large_count every allreduce op runs with every algorithm, in place and out of place,
  // and reduce-scatter/reduce with two ops. At or above it (the large sizes check data movement,
  // the small ones every schedule) each allreduce op runs once with the first algorithm,
  // alternating in place and out of place, and reduce-scatter/reduce with sum only.
  std::vector<Algorithm> allreduce_algorithms = {Algorithm::kAuto};
  size_t large_count = 1 << 16;
};

// Runs the suite; returns the first failure (a collective's error, annotated, or kInternal for a
// wrong value). Every rank of `comm` must call it with the same options.
absl::Status RunCollectiveSuite(Communicator& comm, const SuiteOptions& options);

// The input value of rank r at element i, and the serial references used by the suite.
double InputValue(int rank, size_t index);

}  // namespace tangram::collectives::testing

#endif  // TANGRAM_TESTS_COLLECTIVES_COLLECTIVE_SUITE_H_
