// The collective suite on the NCCL transport (host buffers, staged through the GPU). Runs as
// one process (MPI singleton); skips with the reason when this machine has no usable GPU.
#include <cuda_runtime.h>

#include "collectives/communicator.h"
#include "gtest/gtest.h"
#include "tests/collectives/collective_suite.h"

namespace tangram::collectives {
namespace {

void SkipWithoutGpu() {
  int devices = 0;
  const cudaError_t error = cudaGetDeviceCount(&devices);
  if (error != cudaSuccess || devices == 0) {
    GTEST_SKIP() << "no usable CUDA device ("
                 << (error != cudaSuccess ? cudaGetErrorString(error) : "0 devices")
                 << "): the NCCL transport is only compile-checked here";
  }
}

TEST(NcclCollectivesTest, SuiteMatchesSerialReference) {
  SkipWithoutGpu();
  if (::testing::Test::IsSkipped()) return;
  auto comm = CreateCommunicator("nccl");
  ASSERT_TRUE(comm.ok()) << comm.status();
  const absl::Status status = testing::RunCollectiveSuite(**comm, testing::SuiteOptions());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(NcclCollectivesTest, SplitAndTimeout) {
  SkipWithoutGpu();
  if (::testing::Test::IsSkipped()) return;
  auto comm = CreateCommunicator("nccl");
  ASSERT_TRUE(comm.ok()) << comm.status();
  auto sub = (*comm)->Split(0, 0);
  ASSERT_TRUE(sub.ok()) << sub.status();
  float x = 2.0f;
  EXPECT_TRUE((*sub)->AllReduce(&x, &x, 1, DataType::kF32, ReduceOp::kSum).ok());
  EXPECT_EQ(x, 2.0f * (*sub)->size());
}

}  // namespace
}  // namespace tangram::collectives
