#include "collectives/sim/sim_world.h"

#include <algorithm>
#include <set>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/p2p_communicator.h"
#include "collectives/sim/sim_fabric.h"

namespace tangram::collectives {
namespace {

// The hierarchical allreduce's grouping: islands when there are several, else nodes.
std::vector<int> Locality(const LinkModel& links) {
  if (links.ranks() == 0) return {};
  const std::set<int> islands(links.island_of().begin(), links.island_of().end());
  return islands.size() > 1 ? links.island_of() : links.node_of();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SimWorld>> SimWorld::Create(SimOptions options) {
  if (options.ranks < 1) {
    return absl::InvalidArgumentError(absl::StrCat("SimWorld: ranks = ", options.ranks));
  }
  if (options.links.ranks() != 0 && options.links.ranks() != options.ranks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SimWorld: link model for ", options.links.ranks(), " ranks, world of ", options.ranks));
  }
  return std::unique_ptr<SimWorld>(new SimWorld(std::make_unique<Fabric>(std::move(options))));
}

SimWorld::SimWorld(std::unique_ptr<Fabric> fabric) : fabric_(std::move(fabric)) {}
SimWorld::~SimWorld() = default;

int SimWorld::size() const { return fabric_->size(); }
const SimOptions& SimWorld::options() const { return fabric_->options(); }

absl::StatusOr<std::unique_ptr<Communicator>> SimWorld::CreateCommunicator(
    int rank, const CommunicatorOptions& options) {
  if (rank < 0 || rank >= size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sim: rank ", rank, " is outside the world's [0, ", size(), ")"));
  }
  return std::make_unique<P2PCommunicator>(fabric_->JoinWorld(rank), options, "sim",
                                           Locality(fabric_->options().links));
}

absl::StatusOr<std::unique_ptr<Transport>> SimWorld::JoinTransport(int rank) {
  if (rank < 0 || rank >= size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sim: rank ", rank, " is outside the world's [0, ", size(), ")"));
  }
  return fabric_->JoinWorld(rank);
}

std::vector<absl::Status> SimWorld::Run(absl::FunctionRef<absl::Status(Communicator&)> fn) {
  CommunicatorOptions options;
  options.timeout = fabric_->options().timeout;
  options.algorithm = fabric_->options().algorithm;
  std::vector<std::unique_ptr<Communicator>> comms(size());
  std::vector<absl::Status> results(size());
  for (int r = 0; r < size(); ++r) {
    auto comm = CreateCommunicator(r, options);
    if (!comm.ok()) return std::vector<absl::Status>(size(), comm.status());
    comms[r] = *std::move(comm);
  }
  std::vector<std::thread> threads;
  threads.reserve(size());
  for (int r = 0; r < size(); ++r) {
    try {
      threads.emplace_back([&, r] {
        results[r] = fn(*comms[r]);
        // A rank that gives up must not leave the others waiting for it.
        if (!results[r].ok()) comms[r]->Abort(results[r]);
      });
    } catch (const std::system_error& e) {
      // The machine cannot start another thread: fail every rank, started or not, with a Status
      // (the started ones see their peers abort and return).
      absl::Status failed = absl::ResourceExhaustedError(
          absl::StrCat("sim: cannot start the thread of rank ", r, " of ", size(), " (", e.what(),
                       "); run fewer ranks"));
      for (int k = r; k < size(); ++k) results[k] = failed;
      for (int k = 0; k < size(); ++k) comms[k]->Abort(failed);
      break;
    }
  }
  for (std::thread& thread : threads) thread.join();
  return results;
}

double SimWorld::VirtualSeconds(int rank) const { return fabric_->rank_state(rank).clock_s; }

double SimWorld::MaxVirtualSeconds() const {
  double latest = 0.0;
  for (int r = 0; r < size(); ++r) latest = std::max(latest, VirtualSeconds(r));
  return latest;
}

void SimWorld::ResetClocks() {
  for (int r = 0; r < size(); ++r) {
    fabric_->rank_state(r).clock_s = 0.0;
    fabric_->rank_state(r).port_free_s[0] = 0.0;
    fabric_->rank_state(r).port_free_s[1] = 0.0;
  }
}

}  // namespace tangram::collectives
