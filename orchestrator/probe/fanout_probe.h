// Step 3c of the link probe (link_probe.h): does one rank's traffic to two other hosts share one
// port, or does each peer have its own link?
//
// A pipeline stage sends its activations to the next stage's host and its gradients to the
// previous one's, often at once (1F1B's steady state). Through one NIC on a switch the two
// sends share its rate; on a mesh of point-to-point links (or a host with a NIC per peer) each
// has its own. Measured on namespace hosts (docs/simulator.md, session 18): a 4-stage pipeline
// whose second host has 20 Mbit/s links stepped in 0.33 s on a mesh and 0.47 s through a switch,
// with the same pair figures; the simulator, which shared one port per cell, gave 0.47 s for both.
//
// The probe picks three hosts whose pairs' rates (step 3b) are closest to equal (the trio with the
// largest slowest ÷ fastest pair rate, at least kMinFanoutBalance), so that the lowest of them
// (the lead) is not the only fast or slow one: through a switch its NIC then limits both sends.
// The lead's first rank sends `bytes` to the first rank of each other host — to one alone, to the
// other alone, to both at once — each acknowledged by one float, the faster of two of each.
// FanoutLinks turns the three times into the links figure. Every rank of `world` takes part
// (the others wait at barriers). Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_FANOUT_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_FANOUT_PROBE_H_

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "orchestrator/probe/link_probe.h"
#include "partitioner/measurements.h"

namespace tangram::orchestrator {

// Below this slowest ÷ fastest pair rate no trio is timed: with one peer much slower the sends
// overlap little whatever the network, and the times say nothing about sharing.
inline constexpr double kMinFanoutBalance = 0.5;

// The trio step 3c times, as first ranks {lead, peer, peer} of three hosts joined pairwise by
// links of one class across nodes, from the pairs' figures `host_links` (names as in `places`);
// nullopt when there are fewer than three hosts or no trio is balanced enough.
std::optional<std::array<int, 3>> FanoutTrio(
    const std::vector<RankPlace>& places,
    const std::vector<partitioner::MeasuredHostLink>& host_links);

// Links from the times of the sends to one peer alone (`a`), to the other alone (`b`) and to both
// at once (`both`): 1 when `both` is a + b (one port passing both in turn), 2 when it is the
// longer of the two (each on its own link); in between 1 + ((a + b) ÷ both − 1) ÷ ((a + b) ÷
// max(a, b) − 1), clamped to [1, 2]. For equal sends that is 2a ÷ both: the links at which the
// simulator's port (engine.h, each of n flows at min(1, links ÷ n)) takes `both`.
double FanoutLinks(double a, double b, double both);

// Step 3c on FanoutTrio's `trio`; collective over `world` (every rank passes the same trio).
// `bytes` per send, `alpha_s` the class's latency (taken off each send and its acknowledgement),
// `clock` seconds.
absl::StatusOr<partitioner::MeasuredFanout> ProbeFanout(collectives::Communicator& world,
                                                        const std::vector<RankPlace>& places,
                                                        const std::array<int, 3>& trio,
                                                        size_t bytes, double alpha_s,
                                                        const std::function<double()>& clock);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_FANOUT_PROBE_H_
