#include "collectives/types.h"

#include <string>

#include "absl/strings/str_cat.h"

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

namespace {

template <typename Enum, size_t N>
absl::StatusOr<Enum> ParseByName(absl::string_view what, absl::string_view name,
                                 const Enum (&values)[N], absl::string_view (*to_name)(Enum)) {
  std::string known;
  for (Enum value : values) {
    if (to_name(value) == name) return value;
    absl::StrAppend(&known, known.empty() ? "" : ", ", to_name(value));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", what, " '", name, "' (known: ", known, ")"));
}

constexpr Algorithm kAllAlgorithms[] = {
    Algorithm::kAuto, Algorithm::kNative,       Algorithm::kRing, Algorithm::kHalvingDoubling,
    Algorithm::kTree, Algorithm::kHierarchical, Algorithm::kFlat};

}  // namespace

absl::StatusOr<DataType> ParseDataType(absl::string_view name) {
  return ParseByName("data type", name, kAllDataTypes, DataTypeName);
}
absl::StatusOr<ReduceOp> ParseReduceOp(absl::string_view name) {
  return ParseByName("reduce op", name, kAllReduceOps, ReduceOpName);
}
absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name) {
  return ParseByName("algorithm", name, kAllAlgorithms, AlgorithmName);
}

}  // namespace tangram::collectives
