// What each rank tells the coordinator about itself: where it runs, on what, and how fast it
// *measured* the job's own layers. The coordinator builds the measured fleet from these.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_NODE_REPORT_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_NODE_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tangram::orchestrator {

struct NodeReport {
  int rank = 0;
  std::string host;         // gethostname()
  std::string device_kind;  // catalog kind ("cpu" for the CPU runtime)
  std::string device_name;  // CPU model or CUDA device name
  double memory_gib = 0;    // memory available to this rank
  // Measured by calibration: model FLOPs per second on the job's layers (forward + backward),
  // including any emulated slowdown (which is emulation, reported separately).
  double measured_tflops = 0;
  double seconds_per_sample = 0;  // calibration: forward + backward of every layer, one sample
  // Calibration: the model FLOPs of one sample's forward + backward (what the rate divides), the
  // micro-batch it ran, and how one micro-batch's time split over the layer kinds and passes —
  // embedding forward, backward; one block forward, backward; head forward, backward — as
  // fractions of the whole (the blocks count `layers` times). Empty: not measured. The measured
  // fleet turns the split into tp-1 layer times at the rank's rate (coordinator.h).
  double flops_per_sample = 0;
  int calibration_micro_batch = 0;
  std::vector<double> layer_shares;
  double emulate_slowdown = 1;  // EMULATION factor applied to this rank's compute (1 = none)
  // Measured by calibration: the optimizer step (AdamW, then zeroing the gradients) per parameter,
  // in nanoseconds, EMULATION included as training stretches it; 0 = not measured.
  double optimizer_ns_per_parameter = 0;
  // What the calibration did (CalibrationOptions): the fewest timed passes a layer got in one
  // probe, whether its time budget cut any layer short, and its wall time.
  int calibration_passes = 0;
  bool calibration_budget_hit = false;
  double calibration_seconds = 0;

  nlohmann::json ToJson() const;
  static absl::StatusOr<NodeReport> FromJson(const std::string& text);
};

// Host name, CPU model and physical memory of this machine (device_kind "cpu").
NodeReport DescribeThisHost(int rank);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_NODE_REPORT_H_
