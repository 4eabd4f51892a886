// The partitioner's named choices: the partition strategy, the pipeline schedule, and the
// data-parallel allreduce algorithm of the α-β model. Inside the libraries they travel as these
// enums; their names appear only at the edges (YAML and plan JSON, the command line, printing).
// Each has one Name function and one Parse function (kInvalidArgument listing the known names,
// with a "did you mean" when one is close: base/names.h).
//
// Pure functions, thread-safe.
#ifndef TANGRAM_PARTITIONER_KINDS_H_
#define TANGRAM_PARTITIONER_KINDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tangram::partitioner {

// A partition strategy (strategy.h has what each does; CreateStrategy builds one).
enum class StrategyKind : int8_t { kAuto, kHeteroPipeline, kProportional, kUniform, kOracle };
inline constexpr StrategyKind kAllStrategies[] = {
    StrategyKind::kAuto, StrategyKind::kHeteroPipeline, StrategyKind::kProportional,
    StrategyKind::kUniform, StrategyKind::kOracle};
// "auto", "hetero-pipeline", "proportional", "uniform", "oracle".
const char* StrategyName(StrategyKind kind);
absl::StatusOr<StrategyKind> ParseStrategy(std::string_view name);

// A pipeline schedule (the simulator's schedule.h runs them): 1F1B, GPipe, and Megatron-LM's
// interleaved 1F1B, the only one with more than one model chunk per rank.
enum class PipelineSchedule : int8_t { kOneFOneB, kGPipe, kInterleaved };
inline constexpr PipelineSchedule kAllSchedules[] = {
    PipelineSchedule::kOneFOneB, PipelineSchedule::kGPipe, PipelineSchedule::kInterleaved};
// "1f1b", "gpipe", "interleaved".
const char* ScheduleName(PipelineSchedule schedule);
absl::StatusOr<PipelineSchedule> ParseSchedule(std::string_view name);

// The algorithm of a data-parallel allreduce in the α-β model (comm_model.h). A caller asks for
// kAuto (the faster of the two formulas), kRing or kHierarchical; the model reports which one it
// costed: kNone (one member or nothing to send), kIntraNode (a ring inside one node), kRing or
// kHierarchical. Plans (PlanStage::allreduce_algorithm) and simulations record the report.
enum class AllreduceAlgorithm : int8_t { kAuto, kRing, kHierarchical, kNone, kIntraNode };
inline constexpr AllreduceAlgorithm kAllAllreduceAlgorithms[] = {
    AllreduceAlgorithm::kAuto, AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHierarchical,
    AllreduceAlgorithm::kNone, AllreduceAlgorithm::kIntraNode};
// "auto", "ring", "hierarchical", "none", "intra-node".
const char* AllreduceAlgorithmName(AllreduceAlgorithm algorithm);
absl::StatusOr<AllreduceAlgorithm> ParseAllreduceAlgorithm(std::string_view name);
// Whether `algorithm` is one a caller may ask for (kAuto, kRing, kHierarchical); the other two
// are outcomes only.
bool IsAllreduceRequest(AllreduceAlgorithm algorithm);

// The names of kAllStrategies / kAllSchedules, in order (help texts, YAML enum checks).
std::vector<std::string> StrategyNames();
std::vector<std::string> ScheduleNames();

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_KINDS_H_
