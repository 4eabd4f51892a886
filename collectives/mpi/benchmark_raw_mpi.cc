#include "collectives/benchmark_raw_mpi.h"

#include <mpi.h>

#include "absl/strings/str_cat.h"

namespace tangram::collectives {

absl::StatusOr<double> TimeRawMpi(CollectiveOp op, const float* send, float* recv, size_t count,
                                  int calls) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int n = static_cast<int>(count);
  const int block = n / size;
  auto call = [&] {
    switch (op) {
      case CollectiveOp::kAllReduce:
        return MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      case CollectiveOp::kReduceScatter:
        return MPI_Reduce_scatter_block(send, recv, block, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      case CollectiveOp::kAllGather:
        return MPI_Allgather(send, block, MPI_FLOAT, recv, block, MPI_FLOAT, MPI_COMM_WORLD);
      case CollectiveOp::kBroadcast:
        return MPI_Bcast(recv, n, MPI_FLOAT, 0, MPI_COMM_WORLD);
      case CollectiveOp::kReduce:
        return MPI_Reduce(send, recv, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    return MPI_ERR_OP;
  };
  const double start = MPI_Wtime();
  for (int i = 0; i < calls; ++i) {
    if (call() != MPI_SUCCESS)
      return absl::InternalError(absl::StrCat("raw MPI ", CollectiveOpName(op), " failed"));
  }
  return MPI_Wtime() - start;
}

}  // namespace tangram::collectives
