#include "orchestrator/runtime/layer_mover.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/transport.h"
#include "orchestrator/model/layer_state.h"

namespace tangram::orchestrator {
namespace {

using collectives::DataType;

constexpr int kMoveTagBase = 4096;  // above the pipeline's tags

int TagFor(size_t layer) { return kMoveTagBase + 2 * static_cast<int>(layer); }

// A rank that holds a layer under a plan, and which shard: its place in its cell.
struct Holder {
  int rank = 0;
  int tp_rank = 0;
  bool operator==(const Holder& other) const {
    return rank == other.rank && tp_rank == other.tp_rank;
  }
};

std::vector<std::vector<Holder>> HoldersByTpRank(const partitioner::Plan& plan) {
  std::vector<std::vector<Holder>> holders(plan.layer_names.size());
  for (const auto& stage : plan.stages) {
    for (int64_t l = stage.layer_begin;
         l < stage.layer_end && l < static_cast<int64_t>(holders.size()); ++l) {
      for (const auto& cell : stage.cells) {
        for (size_t k = 0; k < cell.devices.size(); ++k) {
          holders[l].push_back({static_cast<int>(cell.devices[k]), static_cast<int>(k)});
        }
      }
    }
  }
  return holders;
}

}  // namespace

absl::StatusOr<std::string> RecvBytes(collectives::Communicator& comm, int peer, int tag) {
  int64_t length = 0;
  TANGRAM_RETURN_IF_ERROR(comm.Recv(&length, 1, DataType::kI64, peer, tag));
  if (length < 0 || length > (int64_t{1} << 34)) {
    return absl::DataLossError(absl::StrCat("layer move from rank ", peer, ": bad length"));
  }
  std::vector<int32_t> words((length + 3) / 4);
  TANGRAM_RETURN_IF_ERROR(comm.Recv(words.data(), words.size(), DataType::kI32, peer, tag + 1));
  std::string bytes(static_cast<size_t>(length), '\0');
  if (length > 0) std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

std::vector<LayerMove> PlanLayerMoves(const partitioner::Plan& before,
                                      const partitioner::Plan& after) {
  std::vector<std::vector<Holder>> old_holders = HoldersByTpRank(before);
  std::vector<std::vector<Holder>> new_holders = HoldersByTpRank(after);
  std::vector<LayerMove> moves;
  for (size_t l = 0; l < new_holders.size() && l < old_holders.size(); ++l) {
    for (const Holder& to : new_holders[l]) {
      if (std::find(old_holders[l].begin(), old_holders[l].end(), to) != old_holders[l].end())
        continue;  // already holds this layer as the same shard
      int source = -1;
      for (const Holder& h : old_holders[l]) {
        if (h.tp_rank == to.tp_rank && (source < 0 || h.rank < source)) source = h.rank;
      }
      if (source < 0) continue;  // no such shard before: plans of different tp (rejected)
      moves.push_back({after.layer_names[l], source, to.rank, to.tp_rank});
    }
  }
  return moves;
}

namespace {

// Both plans must share the layer list and tp, and the tags must fit.
absl::Status CheckMovable(const partitioner::Plan& before, const partitioner::Plan& after) {
  if (before.layer_names != after.layer_names) {
    return absl::InvalidArgumentError("re-plan changed the layer list; cannot move layers");
  }
  if (before.tp != after.tp) {
    return absl::InvalidArgumentError(absl::StrCat("re-plan changed tp from ", before.tp, " to ",
                                                   after.tp, "; cannot move shards"));
  }
  if (TagFor(after.layer_names.size()) > collectives::kMaxUserTag) {
    return absl::FailedPreconditionError("too many layers to move by tag");
  }
  return absl::OkStatus();
}

// What this rank held before, by name, exported once (its own shards when tp > 1).
std::map<std::string, train::LayerState> ExportHeld(train::Stage* stage) {
  std::map<std::string, train::LayerState> held;
  if (stage != nullptr) {
    for (int64_t i = 0; i < stage->size(); ++i) {
      train::LayerState state = stage->ExportLayer(i);
      held.emplace(state.layer, std::move(state));
    }
  }
  return held;
}

// Sends in flight, with the buffers they read: these must outlive every request's Wait.
struct Outgoing {
  std::vector<std::unique_ptr<collectives::Request>> pending;
  std::vector<std::unique_ptr<std::vector<int32_t>>> buffers;
  std::vector<std::unique_ptr<int64_t>> lengths;
};

// Starts a non-blocking send of every layer this rank sends: its length, then its bytes.
absl::Status StartSends(collectives::Communicator& world, const std::vector<LayerMove>& moves,
                        const std::map<std::string, train::LayerState>& held,
                        const std::map<std::string, size_t>& index, Outgoing* out) {
  const int me = world.rank();
  for (const auto& move : moves) {
    if (move.from != me) continue;
    auto it = held.find(move.layer);
    if (it == held.end()) {
      return absl::InternalError(
          absl::StrCat("rank ", me, " should send ", move.layer, " but lacks it"));
    }
    std::string bytes = train::SerializeLayerState(it->second);
    int tag = TagFor(index.at(move.layer));
    out->lengths.push_back(std::make_unique<int64_t>(static_cast<int64_t>(bytes.size())));
    out->buffers.push_back(std::make_unique<std::vector<int32_t>>((bytes.size() + 3) / 4, 0));
    std::memcpy(out->buffers.back()->data(), bytes.data(), bytes.size());
    TANGRAM_ASSIGN_OR_RETURN(
        auto a, world.ISend(out->lengths.back().get(), 1, DataType::kI64, move.to, tag));
    TANGRAM_ASSIGN_OR_RETURN(auto b,
                             world.ISend(out->buffers.back()->data(), out->buffers.back()->size(),
                                         DataType::kI32, move.to, tag + 1));
    out->pending.push_back(std::move(a));
    out->pending.push_back(std::move(b));
  }
  return absl::OkStatus();
}

// Receives every layer this rank is sent, by name; DataLoss when a peer sends another layer.
absl::StatusOr<std::map<std::string, train::LayerState>> ReceiveMoves(
    collectives::Communicator& world, const std::vector<LayerMove>& moves,
    const std::map<std::string, size_t>& index) {
  const int me = world.rank();
  std::map<std::string, train::LayerState> received;
  for (const auto& move : moves) {
    if (move.to != me) continue;
    TANGRAM_ASSIGN_OR_RETURN(std::string bytes,
                             RecvBytes(world, move.from, TagFor(index.at(move.layer))));
    TANGRAM_ASSIGN_OR_RETURN(train::LayerState state,
                             train::ParseLayerState(bytes, absl::StrCat("rank ", move.from)));
    if (state.layer != move.layer) {
      return absl::DataLossError(absl::StrCat("rank ", me, " expected ", move.layer, " from rank ",
                                              move.from, ", received ", state.layer));
    }
    received.insert_or_assign(move.layer, std::move(state));
  }
  return received;
}

// The states of role_after's layers, in model order, taken from what was received or held.
absl::StatusOr<std::vector<train::LayerState>> CollectMine(
    int me, const partitioner::Plan& after, const RankRole& role_after,
    std::map<std::string, train::LayerState>& received,
    std::map<std::string, train::LayerState>& held) {
  std::vector<train::LayerState> mine;
  if (!role_after.active) return mine;
  for (int64_t l = role_after.layer_begin; l < role_after.layer_end; ++l) {
    const std::string& name = after.layer_names[l];
    // A state received wins over one held: this rank may have held the layer as another shard.
    auto r = received.find(name);
    if (r != received.end()) {
      mine.push_back(std::move(r->second));
      continue;
    }
    auto it = held.find(name);
    if (it == held.end()) {
      return absl::InternalError(absl::StrCat("rank ", me, " received no state for ", name));
    }
    mine.push_back(std::move(it->second));
  }
  return mine;
}

}  // namespace

absl::StatusOr<std::vector<train::LayerState>> MoveLayers(collectives::Communicator& world,
                                                          const partitioner::Plan& before,
                                                          train::Stage* stage,
                                                          const partitioner::Plan& after,
                                                          const RankRole& role_after) {
  TANGRAM_RETURN_IF_ERROR(CheckMovable(before, after));
  std::map<std::string, size_t> index;
  for (size_t l = 0; l < after.layer_names.size(); ++l) index[after.layer_names[l]] = l;
  std::map<std::string, train::LayerState> held = ExportHeld(stage);
  std::vector<LayerMove> moves = PlanLayerMoves(before, after);
  // Non-blocking sends first, then the receives, then wait for the sends: no rank can block in a
  // send while its peer blocks in another. A rank sends a layer to several ranks at most once per
  // destination, and receives each layer from one source, so (peer, tag) pairs never repeat.
  Outgoing outgoing;
  TANGRAM_RETURN_IF_ERROR(StartSends(world, moves, held, index, &outgoing));
  TANGRAM_ASSIGN_OR_RETURN(auto received, ReceiveMoves(world, moves, index));
  for (auto& request : outgoing.pending) TANGRAM_RETURN_IF_ERROR(request->Wait());
  return CollectMine(world.rank(), after, role_after, received, held);
}

}  // namespace tangram::orchestrator
