#include "orchestrator/probe/pulse.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace tangram::orchestrator {

using collectives::DataType;

PulseSender::PulseSender(collectives::Communicator& world, std::vector<int> to, int tag,
                         absl::Duration interval)
    : world_(world),
      to_(std::move(to)),
      tag_(tag),
      interval_(std::min(interval, world.default_timeout() / 4)) {}

absl::Status PulseSender::Pulse() {
  const absl::Time now = absl::Now();
  if (now - last_ < interval_) return absl::OkStatus();
  last_ = now;
  return Send(0);
}

absl::Status PulseSender::Done() {
  last_ = absl::Now();
  return Send(1);
}

absl::Status PulseSender::Send(double message) {
  for (int r : to_) TANGRAM_RETURN_IF_ERROR(world_.Send(&message, 1, DataType::kF64, r, tag_));
  return absl::OkStatus();
}

absl::Status AwaitPulses(collectives::Communicator& world, int from, int tag) {
  for (double message = 0; message == 0;) {
    TANGRAM_RETURN_IF_ERROR(world.Recv(&message, 1, DataType::kF64, from, tag));
  }
  return absl::OkStatus();
}

}  // namespace tangram::orchestrator
