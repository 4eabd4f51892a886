#include "collectives/job_control.h"

#include "collectives/backends.h"

namespace tangram::collectives {

void EndJobAfterFailure(int exit_code, absl::Duration grace) {
  internal::EndMpiJobAfterFailure(exit_code, grace);
}

}  // namespace tangram::collectives
