#include "orchestrator/runtime/step_deadline.h"

#include <algorithm>
#include <cmath>

namespace tangram::orchestrator {

absl::Duration StepDeadline(absl::Duration user, double predicted_step_s) {
  if (!(predicted_step_s > 0) || !std::isfinite(predicted_step_s)) return user;
  return std::max(user, absl::Seconds(kStepsPerDeadline * predicted_step_s));
}

}  // namespace tangram::orchestrator
