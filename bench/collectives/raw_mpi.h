// The raw-MPI baseline of the collectives benchmark: times MPI's own blocking collective on
// MPI_COMM_WORLD, outside our library, in the same run. Defined in raw_mpi.cc when MPI is built,
// else by raw_mpi_unavailable.cc (returns kUnimplemented).
#ifndef TANGRAM_BENCH_COLLECTIVES_RAW_MPI_H_
#define TANGRAM_BENCH_COLLECTIVES_RAW_MPI_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace tangram::collectives::bench {

// Seconds per call of the raw MPI collective for `op` ("allreduce", "reduce_scatter",
// "allgather", "broadcast", "reduce") on `count` floats (the whole array S, as the table's size),
// averaged over `iters` calls after `warmup`, maximum over ranks. MPI must be initialised.
absl::StatusOr<double> TimeRawMpi(const std::string& op, size_t count, int warmup, int iters);

}  // namespace tangram::collectives::bench

#endif  // TANGRAM_BENCH_COLLECTIVES_RAW_MPI_H_
