#include "collectives/benchmark_raw_mpi.h"

#include <mpi.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace tangram::collectives {

absl::StatusOr<double> TimeRawMpi(const std::string& op, size_t count, int warmup, int iters) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int n = static_cast<int>(count);
  const int block = n / size;
  std::vector<float> send(count, 1.0f), recv(count, 0.0f);
  auto call = [&] {
    if (op == "allreduce") {
      return MPI_Allreduce(send.data(), recv.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    } else if (op == "reduce_scatter") {
      return MPI_Reduce_scatter_block(send.data(), recv.data(), block, MPI_FLOAT, MPI_SUM,
                                      MPI_COMM_WORLD);
    } else if (op == "allgather") {
      return MPI_Allgather(send.data(), block, MPI_FLOAT, recv.data(), block, MPI_FLOAT,
                           MPI_COMM_WORLD);
    } else if (op == "broadcast") {
      return MPI_Bcast(recv.data(), n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    } else if (op == "reduce") {
      return MPI_Reduce(send.data(), recv.data(), n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    return MPI_ERR_OP;
  };
  for (int i = 0; i < warmup; ++i) call();
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  for (int i = 0; i < iters; ++i) {
    if (call() != MPI_SUCCESS) return absl::InternalError(absl::StrCat("raw MPI ", op, " failed"));
  }
  double seconds = (MPI_Wtime() - start) / iters, slowest = 0;
  MPI_Allreduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

}  // namespace tangram::collectives
