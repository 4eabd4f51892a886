// Measuring the network a job runs on, over the Communicator API (so it runs on every transport;
// on the simulated one it reads the virtual clock and recovers the link model exactly).
//
// Every rank of `world` calls ProbeLinks with the same `places` (host and island of each rank),
// and all ranks take part in every step, in this order:
//  1. Point-to-point α/β per link class present (same node = same host name; same island across
//     nodes; across islands): one representative pair per class (the lowest ranks that form one)
//     ping-pongs messages of growing sizes, each size `repetitions` round trips after one warm-up,
//     until a round trip passes `size_seconds` (but not before 512 KiB); α and β are fitted
//     (FitAlphaBeta) to the fastest round trip of each size, halved: on an oversubscribed host
//     the others carry the scheduler's wake-up delays, not the link's. The fit is broadcast.
//  1b. A token bucket (a traffic shaper) per class across nodes, on the wall clock only: after an
//  idle gap
//     long enough to refill it, single one-way sends of 8 KiB doubling up to 512 KiB (or the
//     largest ping-pong size), each acknowledged by one float; FitBurst finds where the curve bends
//     from the peak rate to the fitted β. Nothing is recorded where the curve does not bend
//     (a NIC without a shaper).
//  2. One bidirectional probe per class: both ranks of the pair send the largest size at once;
//     each direction's bandwidth = bytes ÷ (time − α).
//  3. NIC sharing: every rank of the node with the most ranks (when it has two or more) sends at
//     once to a distinct rank on another node; aggregate = the senders' bytes ÷ (slowest − α).
//     Equal to one pair's bandwidth: the node's ranks share one NIC (or one link).
//  3b. Pairs of hosts (three hosts or more): step 1's figure is one pair's, and a host whose NIC
//     (or, in a mesh of point-to-point links, whose link) is slower or faster than that pair's
//     would carry its class's figure. So every pair of hosts is timed the same way: rounds of
//     disjoint pairs at once (a round-robin tournament, host 0 with host r + 1 in round r), the
//     first rank of the lower host sending its class's largest size, at most 512 KiB, to the
//     first rank of the other, which acknowledges with one float; the faster of two (the
//     representative pair, which every figure is divided by, twice more alone). A pair's
//     figure is its class's bandwidth × its rate ÷ the class's representative pair's (the same
//     method on both: its bias cancels). At most kMaxHostRounds rounds (every pair up to 8 hosts).
//     The cost model scales the class's figures by it for the pair's point-to-point transfers (a
//     pipeline's).
//  3c. Fan-out (three hosts or more; fanout_probe.h): whether one rank's sends to two other hosts
//     at once share one port (a NIC on a switch) or pass on a link each (a mesh), from the times
//     of the two sends alone and together, on the three hosts whose step-3b rates are closest.
//  4. A ring allreduce over the world at the sizes in `allreduce_bytes` that the measured links
//     predict to take under `size_seconds` each (the slowest rank's time, median of 3).
//  5. The allreduce training runs for its gradients: every rank calls the Communicator's
//     AllReduce in place (kSum, f32, the default call options: on the mpi transport Open MPI's
//     MPI_Iallreduce, polled) at `gradient_bytes`, or less where the measured links predict a
//     ring allreduce of that size to take more than `collective_seconds` (but not below 1 MiB),
//     one untimed and `collective_repetitions` timed, each the slowest rank's time; the median
//     (on a virtual clock, which repeats itself exactly, one timed run).
//     That time's bandwidth part (less the ring's 2(q−1)α) against a ring allreduce at the
//     slowest class's one-way rate gives that class's `allreduce_gbs`: the per-direction rate at
//     which the communication model's ring reproduces the collective. It replaces step 2's
//     exchange for collectives: one pair's exchange of two long TCP streams through a shaper is
//     bimodal (the streams take turns), and the collective training runs need not be a ring.
//  5b. Where the world has more than two ranks: the same call over pairs across the slowest
//     class's representative pair of hosts, the i-th rank of one host with the i-th of the other,
//     all pairs at once (communicators split off for them; the others wait), the same
//     repetitions: a ring of two is an exchange on one connection, which a shaper slows more than
//     a ring's sends to one peer and receives from another, and more with several exchanges
//     through one NIC. Gives that class's `pair_allreduce_gbs`: each pair's per-direction rate
//     (as step 5's, for a ring of two) times the number of pairs — what the host's NIC carries
//     when its data-parallel groups of two run at once.
// Other ranks wait while a pair measures, so nothing else crosses its link: pulse by pulse (the
// lead's, every `pulse_seconds`), so that a slow link's long measurement outlasts no call's
// timeout. Thread-compatible (one call per rank, each with its own communicator).
#ifndef TANGRAM_ORCHESTRATOR_PROBE_LINK_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_LINK_PROBE_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "partitioner/measurements.h"

namespace tangram::orchestrator {

struct RankPlace {
  std::string host;  // gethostname(): ranks with one host share a node
  int island = 0;    // the fleet's island of this rank's device
};

struct LinkProbeOptions {
  // Ping-pong message sizes in bytes, ascending; stops early past `size_seconds` per round trip.
  std::vector<size_t> sizes = {8, 16 << 10, 128 << 10, 512 << 10, 2 << 20};
  int repetitions = 7;
  double size_seconds = 0.25;
  std::vector<size_t> allreduce_bytes = {64 << 10, 1 << 20, 4 << 20};
  // Step 5: the gradient's bytes (0: the largest of allreduce_bytes), repetitions, time bound.
  size_t gradient_bytes = 0;
  int collective_repetitions = 5;
  double collective_seconds = 0.25;
  // Wall seconds between the lead's pulses to the ranks that wait while a pair measures (each
  // waits for the next pulse within the communicator's per-call timeout: keep this well below).
  double pulse_seconds = 1.0;
  // Step 1b (token bucket); off on a virtual clock, whose links have none.
  bool burst = true;
  int burst_repetitions = 3;
  // Seconds now; default: the communicator's virtual clock when it has one, else the wall clock.
  std::function<double()> clock;
};

struct LinkProbeResult {
  std::vector<partitioner::MeasuredLink> links;
  std::optional<partitioner::MeasuredNic> nic;
  std::vector<partitioner::MeasuredHostLink> host_links;  // step 3b; empty below 3 hosts
  std::optional<partitioner::MeasuredFanout> fanout;      // step 3c; absent below 3 hosts
  std::vector<partitioner::AllreduceSample> allreduce;
  // Step 5's collective: its bytes and median time (absent: not timed, e.g. one node).
  std::optional<partitioner::AllreduceSample> gradient_allreduce;
  // Step 5b's: the same over pairs across two hosts, all at once (absent: not timed).
  std::optional<partitioner::AllreduceSample> pair_allreduce;
  int pair_allreduce_pairs = 0;  // how many pairs ran it at once
  // False when the clock did not move (e.g. the simulated transport with free links): there is
  // nothing to fit, and no link figure is reported.
  bool timed = true;
};

// Collective over `world`; see the file comment. `places` has one entry per rank.
absl::StatusOr<LinkProbeResult> ProbeLinks(collectives::Communicator& world,
                                           const std::vector<RankPlace>& places,
                                           const LinkProbeOptions& options = {});

// One line per measured figure, as `tangram train` and tangram.torch print them ("link
// same_island: latency 8.2 us, 0.0239 GB/s (ranks 0-1); ...", "nic: ...", "hosts a-b: ...",
// "fanout: ...").
std::vector<std::string> DescribeLinks(const std::vector<partitioner::MeasuredLink>& links,
                                       const std::optional<partitioner::MeasuredNic>& nic,
                                       const std::vector<partitioner::MeasuredHostLink>& host_links,
                                       const std::optional<partitioner::MeasuredFanout>& fanout);

// The link class joining two placed ranks.
partitioner::LinkClass ClassOf(const RankPlace& a, const RankPlace& b);

// Each host's first rank, hosts in rank order of first appearance (steps 3b and 3c time these).
std::vector<int> FirstRankOfEachHost(const std::vector<RankPlace>& places);

// Fits t = α + n·β over (bytes, seconds) samples, sizes ascending. With two or more sizes of
// 128 KiB and more (and a smaller one), β is the least-squares slope over those and α what the
// smallest size leaves: a shaper's burst makes small messages look fast, and a fit through them
// would overstate the bandwidth. Otherwise a least-squares fit over all, weighted by 1/t² (every
// size counts by its relative error). Returns {α seconds, β seconds per byte}, α >= 0.
std::pair<double, double> FitAlphaBeta(const std::vector<std::pair<double, double>>& samples);

// A token bucket read from one-way send times after an idle gap (each acknowledged by one float),
// (bytes, seconds) ascending, on a link whose sustained β is `beta` s/byte. Model: t(n) = c +
// min(n, B)/p + max(0, n − B)·β, c the fixed cost of a send and its acknowledgement. The two
// smallest sizes give 1/p (their slope) and c; the time saved against c + n·β grows as
// n·(β − 1/p) up to n = B and stays at B·(β − 1/p) beyond, so B = the largest saving ÷ (β − 1/p).
// Nothing (nullopt) unless there are three sizes or more, the peak is at least 4/3 of the
// sustained rate, the largest saving exceeds c (the scale of the timing noise on one send; on a
// fast link the small sizes' differences are below it), B is at least 4 KiB, and a size past B
// was measured (the bend was seen).
struct BurstFit {
  double burst_bytes = 0;
  double peak_gbs = 0;
};
std::optional<BurstFit> FitBurst(const std::vector<std::pair<double, double>>& samples,
                                 double beta);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_LINK_PROBE_H_
