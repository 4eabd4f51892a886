// How a rank waits for a message or a collective it cannot finish yet: spin on the transport's
// test call, or give its core away between tests. MPI progresses only inside MPI calls, so a
// waiting rank polls; on a machine with a core per rank the spin costs nothing and answers
// fastest. On a machine holding more ranks than cores (the CPU runtime oversubscribing a host,
// and on this project's development machine every namespace host of the netns harness) a
// spinning rank takes the core from a rank that computes or that must progress its part of a
// collective: pp2dp2 (4 ranks, 2 cores) stepped in 0.142 s with waiting ranks spinning and 0.100 s
// with them yielding (docs/simulator.md, "Namespace hosts"). Open MPI yields only when its
// launcher knows the node is oversubscribed (mpi_yield_when_idle); hosts in network namespaces,
// containers or a hostfile with spare slots hide that from it. So the transport decides itself
// from what every rank reads of its machine: ranks sharing a kernel boot id share cores, and the
// union of their CPU affinity is how many.
//
// Thread-safe (one process-wide policy, an atomic).
#ifndef TANGRAM_COLLECTIVES_WAIT_POLICY_H_
#define TANGRAM_COLLECTIVES_WAIT_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tangram::collectives {

enum class WaitPolicy : int8_t {
  kSpin = 0,   // test in a loop (napping only once a wait has lasted long)
  kYield = 1,  // sched_yield after every test that found nothing done, then nap (below)
};

// "spin", "yield".
const char* WaitPolicyName(WaitPolicy p);

// How long a wait tests (spinning or yielding) before it starts to nap between tests: a wait that
// lasts longer is waiting for a peer that still computes, not for a message in flight.
//   kSpin: 10 ms. A rank with a core of its own loses nothing by spinning, and a nap inside an
//     ordinary collective (a peer descheduled for a millisecond) cost up to 10 % against a raw
//     MPI_Allreduce with the earlier 1 ms threshold.
//   kYield: 200 us. A yielding rank stays runnable, and the kernel balances runnable tasks, not
//     computing ones: with 3 ranks on 2 cores the waiter that sits alone on a core keeps it while
//     the two computing ranks share the other (sched_yield returns at once when nothing else is
//     queued there). A napping rank leaves its core idle and the kernel moves a runnable rank
//     onto it. A 3-stage pipeline on 2 cores (docs/simulator.md, "pp3") stepped in 1.09-1.11 s
//     with 10 ms of yielding and 0.90-0.93 s with 200 us; naps from the first empty test made
//     64 KiB allreduces 3x slower, 200 us left the collectives benchmark unchanged
//     (docs/collectives.md, "Wait policy").
absl::Duration TestBeforeNapping(WaitPolicy p);
// The naps that follow back off from 10 us to this (a nap adds at most this to a wait).
inline constexpr absl::Duration kMaxWaitNap = absl::Microseconds(200);
// "spin" | "yield" -> the policy; "auto" or "" -> nullopt (decide from the machine); anything else
// -> nullopt with *error set to a message naming the value and the choices.
std::optional<WaitPolicy> ParseWaitPolicy(absl::string_view text, std::string* error);

// What one rank reads of its machine.
struct RankMachine {
  std::string machine;    // kernel boot id (a prefix); "" when unreadable: a machine of its own
  std::vector<int> cpus;  // its CPU affinity; empty = unknown (a machine knowing none: 1 CPU)
};
// This process's (/proc/sys/kernel/random/boot_id, sched_getaffinity).
RankMachine DescribeRankMachine();
// Whether `rank`'s machine holds more ranks than the union of their CPUs: the ranks with its
// (non-empty) machine key, against the distinct CPUs in their affinity sets.
bool Oversubscribed(const std::vector<RankMachine>& ranks, int rank);
// The policy for `rank`: kYield when oversubscribed, else kSpin.
WaitPolicy ChoosePolicy(const std::vector<RankMachine>& ranks, int rank);

// The process-wide policy the MPI transport's wait loop follows (default kSpin until a
// communicator decides it; TANGRAM_MPI_WAIT=spin|yield|auto overrides the decision).
WaitPolicy CurrentWaitPolicy();
void SetWaitPolicy(WaitPolicy p);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_WAIT_POLICY_H_
