// Small helpers over a Communicator for the coordinator's control messages: strings (JSON
// reports, plans) broadcast from a root or gathered from every rank.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_COMM_UTIL_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_COMM_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"

namespace tangram::orchestrator {

// Broadcasts `*text` from `root` (its length, then its bytes); on other ranks `*text` is replaced.
absl::Status BroadcastString(collectives::Communicator& comm, int root, std::string* text);

// Every rank contributes `mine`; every rank receives all contributions in rank order.
absl::StatusOr<std::vector<std::string>> AllGatherStrings(collectives::Communicator& comm,
                                                          const std::string& mine);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_COMM_UTIL_H_
