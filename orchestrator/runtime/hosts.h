// Where the ranks of a job really run, against where the fleet file says they should.
//
// Rank i of an MPI job trains fleet device i (FlattenFleet order). A fleet node group that names a
// `host` is checked against the host name the rank reports, so that a hostfile in the wrong order
// is an error naming which rank sits where, not a silently wrong placement. `tangram hostfile`
// writes hostfiles that are right by construction. Pure functions over plain data.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_HOSTS_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_HOSTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "partitioner/fleet.h"

namespace tangram::orchestrator {

// True when fleet host `expected` names the machine `actual` (gethostname()). "", "local" and
// "localhost" match any machine (one-machine fleets); otherwise the names must be equal, or equal
// up to the first '.' of either (short name against fully qualified name).
bool HostMatches(const std::string& expected, const std::string& actual);

// OK when every rank r < rank_hosts.size() runs on the host the fleet gives device r;
// kFailedPrecondition otherwise, listing each misplaced rank and every rank's real host.
absl::Status CheckPlacement(const partitioner::Fleet& fleet,
                            const std::vector<std::string>& rank_hosts);

enum class HostfileFormat { kOpenMpi, kSlurm };

// The launcher's host list for `fleet`, so that rank i lands on the host of fleet device i:
//   kOpenMpi: "HOST slots=N" per host in fleet order (use with mpirun --map-by slot);
//   kSlurm:   one host per rank (SLURM_HOSTFILE with srun --distribution=arbitrary).
// `node_names` names the fleet's nodes in order (FlattenFleet node ids) where the groups name no
// host (e.g. from `scontrol show hostnames`); it overrides the groups' hosts when given.
// kFailedPrecondition when a node has no name, or when a host's devices are not contiguous in the
// fleet (no Open MPI hostfile can express that order).
absl::StatusOr<std::string> WriteHostfile(const partitioner::Fleet& fleet, HostfileFormat format,
                                          const std::vector<std::string>& node_names = {});

// The number of ranks the launcher that started this process announces in the environment
// (OMPI_COMM_WORLD_SIZE under mpirun, PMI_SIZE / PMIX with SLURM_STEP_NUM_TASKS under srun), or 1
// when there is none. `source` (if not null) receives the variable that said so.
int LauncherWorldSize(std::string* source = nullptr);

// This process's rank as the launcher announces it (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK), or
// -1 when there is none: known before the communicator is up, so that an error found before then
// says which rank found it.
int LauncherRank();

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_HOSTS_H_
