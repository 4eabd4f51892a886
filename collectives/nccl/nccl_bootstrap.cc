// Starting NCCL, in the order llm.c's zero.cuh does it: MPI is already up and knows every rank,
// so MPI carries NCCL's unique id (NCCL itself has no way to find its peers).
#include "collectives/nccl/nccl_bootstrap.h"

#include <mpi.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/mpi/mpi_transport.h"

namespace tangram::collectives::nccl {

absl::Status CudaStatus(cudaError_t error, const char* call) {
  const std::string message = absl::StrCat(call, ": ", cudaGetErrorString(error));
  if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver) {
    return absl::FailedPreconditionError(message);
  }
  return absl::InternalError(message);
}

absl::Status NcclStatus(ncclResult_t result, const char* call) {
  return absl::InternalError(absl::StrCat(call, ": ", ncclGetErrorString(result)));
}

absl::StatusOr<Bootstrap> BootstrapFromMpi(int device) {
  TANGRAM_RETURN_IF_ERROR(mpi::EnsureInitialized());
  Bootstrap boot;
  MPI_Comm_rank(MPI_COMM_WORLD, &boot.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &boot.size);

  // The local device: our index among the ranks that share our host name. Several hosts may
  // run several ranks each, so the global rank alone cannot say which GPU is ours.
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  gethostname(host, sizeof(host) - 1);
  std::vector<char> hosts(static_cast<size_t>(boot.size) * MPI_MAX_PROCESSOR_NAME);
  TANGRAM_MPI_CALL(MPI_Allgather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts.data(),
                                 MPI_MAX_PROCESSOR_NAME, MPI_CHAR, MPI_COMM_WORLD),
                   boot.rank);
  int local_rank = 0;
  for (int r = 0; r < boot.rank; ++r) {
    if (std::strcmp(&hosts[static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME], host) == 0) {
      ++local_rank;
    }
  }
  int devices = 0;
  const cudaError_t count_error = cudaGetDeviceCount(&devices);
  // Every rank must reach the broadcast below even without a GPU, or the others would hang.
  int usable = count_error == cudaSuccess && devices > 0 ? 1 : 0, all_usable = 0;
  TANGRAM_MPI_CALL(MPI_Allreduce(&usable, &all_usable, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
                   boot.rank);
  if (!all_usable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "nccl: no usable CUDA device on ", usable ? "another rank's host" : host,
        count_error != cudaSuccess ? absl::StrCat(" (", cudaGetErrorString(count_error), ")")
                                   : std::string()));
  }
  boot.device = device >= 0 ? device : local_rank % devices;
  TANGRAM_CUDA_CALL(cudaSetDevice(boot.device));

  ncclUniqueId id;
  if (boot.rank == 0) TANGRAM_NCCL_CALL(ncclGetUniqueId(&id));
  TANGRAM_MPI_CALL(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD), boot.rank);
  TANGRAM_NCCL_CALL(ncclCommInitRank(&boot.comm, boot.size, id, boot.rank));
  return boot;
}

absl::StatusOr<Bootstrap> BootstrapOver(Communicator& host, int device) {
  Bootstrap boot;
  boot.rank = host.rank();
  boot.size = host.size();
  // Host names travel as 64 int32 words (the Communicator has no byte type).
  constexpr size_t kWords = 64;
  int32_t name[kWords] = {};
  gethostname(reinterpret_cast<char*>(name), sizeof(name) - 1);
  std::vector<int32_t> names(static_cast<size_t>(boot.size) * kWords);
  TANGRAM_RETURN_IF_ERROR(host.AllGather(name, names.data(), kWords, DataType::kI32));
  int local_rank = 0;
  for (int r = 0; r < boot.rank; ++r) {
    if (std::memcmp(&names[static_cast<size_t>(r) * kWords], name, sizeof(name)) == 0) {
      ++local_rank;
    }
  }
  int devices = 0;
  const cudaError_t count_error = cudaGetDeviceCount(&devices);
  // Every rank must reach the broadcast below even without a GPU, or the others would hang.
  int32_t usable = count_error == cudaSuccess && devices > 0 ? 1 : 0, all_usable = 0;
  TANGRAM_RETURN_IF_ERROR(host.AllReduce(&usable, &all_usable, 1, DataType::kI32, ReduceOp::kMin));
  if (!all_usable) {
    return absl::FailedPreconditionError("nccl: no usable CUDA device on a rank of this island");
  }
  boot.device = device >= 0 ? device : local_rank % devices;
  TANGRAM_CUDA_CALL(cudaSetDevice(boot.device));
  ncclUniqueId id;
  if (boot.rank == 0) TANGRAM_NCCL_CALL(ncclGetUniqueId(&id));
  static_assert(sizeof(id) % sizeof(int32_t) == 0);
  TANGRAM_RETURN_IF_ERROR(host.Broadcast(&id, sizeof(id) / sizeof(int32_t), DataType::kI32, 0));
  TANGRAM_NCCL_CALL(ncclCommInitRank(&boot.comm, boot.size, id, boot.rank));
  return boot;
}

}  // namespace tangram::collectives::nccl
