// What `--resume` loads, checked against the model the run trains before anything is measured:
// a checkpoint of another model (other layers, other tensor shapes) is refused by name instead of
// having its extra layers dropped or a missing one found on one rank mid-way through start-up.
// Pure functions over plain data.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_RESUME_CHECK_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_RESUME_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "orchestrator/model/checkpoint.h"

namespace tangram::orchestrator {

// One parameter tensor the model expects, whole (as checkpoints store it, whatever the tp).
struct ExpectedTensor {
  std::string layer;
  std::string name;
  std::vector<int64_t> shape;
};

// OK when `checkpoint` (loaded from `dir`) holds exactly the layers of `expected` (in any order),
// each with the expected tensors by name and shape. kFailedPrecondition otherwise (a configuration
// error: the wrong directory or the wrong job), naming `dir`, the step, `model` and what differs:
// the missing and the extra layers, and the first mismatched tensors.
absl::Status CheckCheckpointFitsModel(const train::Checkpoint& checkpoint, const std::string& dir,
                                      const std::string& model,
                                      const std::vector<ExpectedTensor>& expected);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_RESUME_CHECK_H_
