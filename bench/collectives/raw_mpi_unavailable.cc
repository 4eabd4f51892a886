#include "bench/collectives/raw_mpi.h"

namespace tangram::collectives::bench {

absl::StatusOr<double> TimeRawMpi(const std::string&, size_t, int, int) {
  return absl::UnimplementedError("--compare-raw needs a build with MPI");
}

}  // namespace tangram::collectives::bench
