#include "partitioner/kinds.h"

#include "base/names.h"

namespace tangram::partitioner {

const char* StrategyName(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kAuto:
      return "auto";
    case StrategyKind::kHeteroPipeline:
      return "hetero-pipeline";
    case StrategyKind::kProportional:
      return "proportional";
    case StrategyKind::kUniform:
      return "uniform";
    case StrategyKind::kOracle:
      return "oracle";
  }
  return "?";
}

absl::StatusOr<StrategyKind> ParseStrategy(std::string_view name) {
  return ParseEnumName("strategy", name, kAllStrategies, StrategyName);
}

const char* ScheduleName(PipelineSchedule schedule) {
  switch (schedule) {
    case PipelineSchedule::kOneFOneB:
      return "1f1b";
    case PipelineSchedule::kGPipe:
      return "gpipe";
    case PipelineSchedule::kInterleaved:
      return "interleaved";
  }
  return "?";
}

absl::StatusOr<PipelineSchedule> ParseSchedule(std::string_view name) {
  return ParseEnumName("pipeline schedule", name, kAllSchedules, ScheduleName);
}

const char* AllreduceAlgorithmName(AllreduceAlgorithm algorithm) {
  switch (algorithm) {
    case AllreduceAlgorithm::kAuto:
      return "auto";
    case AllreduceAlgorithm::kRing:
      return "ring";
    case AllreduceAlgorithm::kHierarchical:
      return "hierarchical";
    case AllreduceAlgorithm::kNone:
      return "none";
    case AllreduceAlgorithm::kIntraNode:
      return "intra-node";
  }
  return "?";
}

absl::StatusOr<AllreduceAlgorithm> ParseAllreduceAlgorithm(std::string_view name) {
  return ParseEnumName("allreduce algorithm", name, kAllAllreduceAlgorithms,
                       AllreduceAlgorithmName);
}

bool IsAllreduceRequest(AllreduceAlgorithm algorithm) {
  return algorithm == AllreduceAlgorithm::kAuto || algorithm == AllreduceAlgorithm::kRing ||
         algorithm == AllreduceAlgorithm::kHierarchical;
}

std::vector<std::string> StrategyNames() { return EnumNames(kAllStrategies, StrategyName); }
std::vector<std::string> ScheduleNames() { return EnumNames(kAllSchedules, ScheduleName); }

}  // namespace tangram::partitioner
