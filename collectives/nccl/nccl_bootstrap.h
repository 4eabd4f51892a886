// NCCL bootstrap over MPI (internal; includes nccl.h). See nccl_bootstrap.cc.
#ifndef TANGRAM_COLLECTIVES_NCCL_NCCL_BOOTSTRAP_H_
#define TANGRAM_COLLECTIVES_NCCL_NCCL_BOOTSTRAP_H_

#include <cuda_runtime.h>
#include <nccl.h>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"

namespace tangram::collectives::nccl {

// Converts a CUDA or NCCL result to a Status naming the call (kFailedPrecondition for "no
// device", kInternal otherwise).
absl::Status CudaStatus(cudaError_t error, const char* call);
absl::Status NcclStatus(ncclResult_t result, const char* call);

#define TANGRAM_CUDA_CALL(call)                                              \
  do {                                                                       \
    const cudaError_t _tangram_cuda = (call);                                \
    if (_tangram_cuda != cudaSuccess)                                        \
      return ::tangram::collectives::nccl::CudaStatus(_tangram_cuda, #call); \
  } while (0)
#define TANGRAM_NCCL_CALL(call)                                              \
  do {                                                                       \
    const ncclResult_t _tangram_nccl = (call);                               \
    if (_tangram_nccl != ncclSuccess)                                        \
      return ::tangram::collectives::nccl::NcclStatus(_tangram_nccl, #call); \
  } while (0)

struct Bootstrap {
  ncclComm_t comm = nullptr;
  int device = 0;
  int rank = 0;
  int size = 1;
};

// Collective over MPI_COMM_WORLD: picks this rank's GPU (`device`, or its index among the ranks
// on this host when negative), has rank 0 create the NCCL unique id, broadcasts it over MPI and
// initialises the NCCL communicator. kFailedPrecondition when this host has no GPU.
absl::StatusOr<Bootstrap> BootstrapFromMpi(int device);

// The same over any host communicator (the islands layer passes an island's MPI sub-communicator):
// its AllGather finds the local rank, its Broadcast carries the unique id. Collective over `host`.
absl::StatusOr<Bootstrap> BootstrapOver(Communicator& host, int device);

}  // namespace tangram::collectives::nccl

#endif  // TANGRAM_COLLECTIVES_NCCL_NCCL_BOOTSTRAP_H_
