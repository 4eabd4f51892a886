#include "collectives/types.h"

#include "base/names.h"

namespace tangram::collectives {

size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kF32:
    case DataType::kI32:
      return 4;
    case DataType::kF64:
    case DataType::kI64:
      return 8;
    case DataType::kBF16:
    case DataType::kF16:
      return 2;
  }
  return 0;
}

absl::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kF32:
      return "f32";
    case DataType::kF64:
      return "f64";
    case DataType::kBF16:
      return "bf16";
    case DataType::kF16:
      return "f16";
    case DataType::kI32:
      return "i32";
    case DataType::kI64:
      return "i64";
  }
  return "?";
}

absl::string_view ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
  }
  return "?";
}

absl::string_view AlgorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kAuto:
      return "auto";
    case Algorithm::kNative:
      return "native";
    case Algorithm::kRing:
      return "ring";
    case Algorithm::kHalvingDoubling:
      return "halving_doubling";
    case Algorithm::kTree:
      return "tree";
    case Algorithm::kHierarchical:
      return "hierarchical";
    case Algorithm::kFlat:
      return "flat";
  }
  return "?";
}

absl::string_view CollectiveOpName(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::kAllReduce:
      return "allreduce";
    case CollectiveOp::kReduceScatter:
      return "reduce_scatter";
    case CollectiveOp::kAllGather:
      return "allgather";
    case CollectiveOp::kBroadcast:
      return "broadcast";
    case CollectiveOp::kReduce:
      return "reduce";
  }
  return "?";
}

absl::StatusOr<DataType> ParseDataType(absl::string_view name) {
  return ParseEnumName("data type", {name.data(), name.size()}, kAllDataTypes, DataTypeName);
}
absl::StatusOr<ReduceOp> ParseReduceOp(absl::string_view name) {
  return ParseEnumName("reduce op", {name.data(), name.size()}, kAllReduceOps, ReduceOpName);
}
absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name) {
  return ParseEnumName("algorithm", {name.data(), name.size()}, kAllAlgorithms, AlgorithmName);
}
absl::StatusOr<CollectiveOp> ParseCollectiveOp(absl::string_view name) {
  return ParseEnumName("op", {name.data(), name.size()}, kAllCollectiveOps, CollectiveOpName);
}

}  // namespace tangram::collectives
