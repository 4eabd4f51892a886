// Waiting for a rank that works alone, within the per-call timeout.
//
// Some probes have one rank measure while the others keep off its resources: a link probe's pair
// (bystanders keep off its link), a machine's first rank timing its CPU pool alone (its peers keep
// off its cores). That measurement can last longer than one call's timeout (dozens of transfers
// on a slow link; up to a 5 s share of the probe budget for the CPU pool), so a wait in one
// barrier or broadcast failed a healthy probe whenever --timeout was shorter. Instead the worker
// pulses every waiting rank between its steps (at most once per interval) and once more when it
// is done, and each waiting rank waits pulse by pulse: every receive is bounded by the timeout,
// so a worker that died or hung is still noticed within one.
//
// Pulses are small point-to-point messages on a tag of the caller's (unused by anything else
// between the same ranks meanwhile); a sender never blocks on a rank that is not yet receiving
// (the transports buffer small sends). Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_PULSE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_PULSE_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"

namespace tangram::orchestrator {

class PulseSender {
 public:
  // Pulses go to the ranks `to` of `world` (which must outlive this) on `tag`, at most every
  // `interval`, or every quarter of the world's default timeout when that is shorter (so that a
  // short --timeout does not outlast the gap between two pulses).
  PulseSender(collectives::Communicator& world, std::vector<int> to, int tag,
              absl::Duration interval);

  // "Still working": sent when `interval` has passed since the last pulse (the first call always
  // sends). Errors are the sends'.
  absl::Status Pulse();
  // "Done": the last pulse; each waiting rank's AwaitPulses returns after it.
  absl::Status Done();

 private:
  absl::Status Send(double message);

  collectives::Communicator& world_;
  std::vector<int> to_;
  int tag_;
  absl::Duration interval_;
  absl::Time last_ = absl::InfinitePast();
};

// Receives `from`'s pulses on `tag` until its "done"; each receive is one call under the
// communicator's timeout (kDeadlineExceeded and the like when `from` goes silent).
absl::Status AwaitPulses(collectives::Communicator& world, int from, int tag);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_PULSE_H_
