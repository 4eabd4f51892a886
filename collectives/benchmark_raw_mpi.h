// The raw-MPI baseline of the collectives benchmark: MPI's own blocking collective on
// MPI_COMM_WORLD, outside our library, timed in the same run and on the same buffers as ours.
// Defined in mpi/benchmark_raw_mpi.cc when MPI is built, else by unavailable/benchmark_raw_mpi.cc
// (returns kUnimplemented).
#ifndef TANGRAM_COLLECTIVES_BENCHMARK_RAW_MPI_H_
#define TANGRAM_COLLECTIVES_BENCHMARK_RAW_MPI_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "collectives/types.h"

namespace tangram::collectives {

// Makes `calls` calls of the raw MPI collective for `op` on `count` floats (the whole array S, as
// the table's size) from `send` into `recv`, and returns this rank's wall seconds for all of them.
// No synchronisation before or after: the caller places barriers and combines ranks. MPI must be
// initialised.
absl::StatusOr<double> TimeRawMpi(CollectiveOp op, const float* send, float* recv, size_t count,
                                  int calls);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_BENCHMARK_RAW_MPI_H_
