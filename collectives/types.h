// Element types, reduction operators and algorithm names shared by every transport.
//
// Everything here is a plain value type; all functions are pure and thread-safe.
#ifndef TANGRAM_COLLECTIVES_TYPES_H_
#define TANGRAM_COLLECTIVES_TYPES_H_

#include <cstddef>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace tangram::collectives {

// Element type of a buffer. bf16 and f16 are stored as 16-bit patterns (see half.h); their
// reductions convert each element to f32, combine in f32 and round back once per combine.
enum class DataType { kF32, kF64, kBF16, kF16, kI32, kI64 };

// Reduction operator. kAvg is a sum divided by the number of ranks (integer division for the
// integer types, truncating toward zero).
enum class ReduceOp { kSum, kAvg, kMax, kMin };

// Collective algorithm. kAuto lets the communicator choose; kNative asks the transport for its own
// library collective (MPI_Allreduce, ncclAllReduce) and is kInvalidArgument on the sim transport.
// kFlat is the naive baseline (gather to rank 0, combine, broadcast) used by the benchmarks.
enum class Algorithm { kAuto, kNative, kRing, kHalvingDoubling, kTree, kHierarchical, kFlat };

// A collective operation, as the benchmark and the command line name it.
enum class CollectiveOp { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce };

// Size in bytes of one element of `type`.
size_t DataTypeSize(DataType type);

// Short lowercase names ("f32", "bf16", "sum", "ring", "halving_doubling", "allreduce", ...).
absl::string_view DataTypeName(DataType type);
absl::string_view ReduceOpName(ReduceOp op);
absl::string_view AlgorithmName(Algorithm algorithm);
absl::string_view CollectiveOpName(CollectiveOp op);

// Inverse of the *Name functions; kInvalidArgument for an unknown name, listing the known ones
// with a "did you mean" when one is close (base/names.h).
absl::StatusOr<DataType> ParseDataType(absl::string_view name);
absl::StatusOr<ReduceOp> ParseReduceOp(absl::string_view name);
absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name);
absl::StatusOr<CollectiveOp> ParseCollectiveOp(absl::string_view name);

// Every value of each enum, for tests and command-line help.
inline constexpr DataType kAllDataTypes[] = {DataType::kF32, DataType::kF64, DataType::kBF16,
                                             DataType::kF16, DataType::kI32, DataType::kI64};
inline constexpr ReduceOp kAllReduceOps[] = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax,
                                             ReduceOp::kMin};
inline constexpr Algorithm kAllAlgorithms[] = {
    Algorithm::kAuto, Algorithm::kNative,       Algorithm::kRing, Algorithm::kHalvingDoubling,
    Algorithm::kTree, Algorithm::kHierarchical, Algorithm::kFlat};
inline constexpr CollectiveOp kAllCollectiveOps[] = {
    CollectiveOp::kAllReduce, CollectiveOp::kReduceScatter, CollectiveOp::kAllGather,
    CollectiveOp::kBroadcast, CollectiveOp::kReduce};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_TYPES_H_
