// The deadline of a training step's communication calls, shared by `tangram train` (trainer.cc)
// and the PyTorch front end (tangram.torch, python/src/bind_planner.cc): one rule, one constant.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_STEP_DEADLINE_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_STEP_DEADLINE_H_

#include "absl/time/time.h"

namespace tangram::orchestrator {

// How many predicted steps a training call may take before its rank is taken for stuck.
inline constexpr double kStepsPerDeadline = 3;

// The deadline of a training step's calls: `user` (--timeout, set to catch a dead peer), or
// kStepsPerDeadline × `predicted_step_s` when that is longer. A call can wait for the slowest
// rank's whole step (a gradient allreduce waits for the slowest replica's pipeline), and over a
// slow link one step's calls can outlast a --timeout that is right on a fast one (a 25× larger
// model than the tiny one at 10 Mbit/s: its allreduce alone near 120 s). A predicted step that is
// not a finite number > 0 leaves `user`.
absl::Duration StepDeadline(absl::Duration user, double predicted_step_s);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_STEP_DEADLINE_H_
