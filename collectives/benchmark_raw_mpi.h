// The raw-MPI baseline of the collectives benchmark: times MPI's own blocking collective on
// MPI_COMM_WORLD, outside our library, in the same run. Defined in mpi/benchmark_raw_mpi.cc when
// MPI is built, else by unavailable/benchmark_raw_mpi.cc (returns kUnimplemented).
#ifndef TANGRAM_COLLECTIVES_BENCHMARK_RAW_MPI_H_
#define TANGRAM_COLLECTIVES_BENCHMARK_RAW_MPI_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace tangram::collectives {

// Seconds per call of the raw MPI collective for `op` ("allreduce", "reduce_scatter",
// "allgather", "broadcast", "reduce") on `count` floats (the whole array S, as the table's size),
// averaged over `iters` calls after `warmup`, maximum over ranks. MPI must be initialised.
absl::StatusOr<double> TimeRawMpi(const std::string& op, size_t count, int warmup, int iters);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_BENCHMARK_RAW_MPI_H_
