#include "orchestrator/runtime/layer_mover.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "orchestrator/model/layer_state.h"

namespace tangram::orchestrator {
namespace {

using collectives::DataType;

constexpr int kMoveTagBase = 4096;  // above the pipeline's tags
constexpr int kMaxTag = 16383;

int TagFor(size_t layer) { return kMoveTagBase + 2 * static_cast<int>(layer); }

}  // namespace

absl::Status SendBytes(collectives::Communicator& comm, const std::string& bytes, int peer,
                       int tag) {
  int64_t length = static_cast<int64_t>(bytes.size());
  TANGRAM_RETURN_IF_ERROR(comm.Send(&length, 1, DataType::kI64, peer, tag));
  std::vector<int32_t> words((bytes.size() + 3) / 4, 0);
  if (!bytes.empty()) std::memcpy(words.data(), bytes.data(), bytes.size());
  return comm.Send(words.data(), words.size(), DataType::kI32, peer, tag + 1);
}

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
  std::vector<std::vector<int>> old_holders = LayerHolders(before);
  std::vector<std::vector<int>> new_holders = LayerHolders(after);
  std::vector<LayerMove> moves;
  for (size_t l = 0; l < new_holders.size() && l < old_holders.size(); ++l) {
    if (old_holders[l].empty()) continue;
    int source = *std::min_element(old_holders[l].begin(), old_holders[l].end());
    for (int to : new_holders[l]) {
      if (std::find(old_holders[l].begin(), old_holders[l].end(), to) != old_holders[l].end())
        continue;
      moves.push_back({after.layer_names[l], source, to});
    }
  }
  return moves;
}

absl::StatusOr<std::unique_ptr<train::Stage>> MoveLayers(collectives::Communicator& world,
                                                         const partitioner::Plan& before,
                                                         std::unique_ptr<train::Stage> stage,
                                                         const partitioner::Plan& after,
                                                         const RankRole& role_after,
                                                         const train::GptOptions& model) {
  if (before.layer_names != after.layer_names) {
    return absl::InvalidArgumentError("re-plan changed the layer list; cannot move layers");
  }
  if (TagFor(after.layer_names.size()) > kMaxTag) {
    return absl::FailedPreconditionError("too many layers to move by tag");
  }
  const int me = world.rank();
  std::map<std::string, size_t> index;
  for (size_t l = 0; l < after.layer_names.size(); ++l) index[after.layer_names[l]] = l;

  // What this rank held before, by name, exported once.
  std::map<std::string, train::LayerState> held;
  if (stage) {
    for (int64_t i = 0; i < stage->size(); ++i) {
      train::LayerState state = stage->ExportLayer(i);
      held.emplace(state.layer, std::move(state));
    }
  }
  std::vector<LayerMove> moves = PlanLayerMoves(before, after);
  // Non-blocking sends first, then the receives, then wait for the sends: no rank can block in a
  // send while its peer blocks in another.
  std::vector<std::unique_ptr<collectives::Request>> pending;
  std::vector<std::unique_ptr<std::vector<int32_t>>> buffers;
  std::vector<std::unique_ptr<int64_t>> lengths;
  for (const auto& move : moves) {
    if (move.from != me) continue;
    auto it = held.find(move.layer);
    if (it == held.end()) {
      return absl::InternalError(
          absl::StrCat("rank ", me, " should send ", move.layer, " but lacks it"));
    }
    std::string bytes = train::SerializeLayerState(it->second);
    int tag = TagFor(index[move.layer]);
    lengths.push_back(std::make_unique<int64_t>(static_cast<int64_t>(bytes.size())));
    buffers.push_back(std::make_unique<std::vector<int32_t>>((bytes.size() + 3) / 4, 0));
    std::memcpy(buffers.back()->data(), bytes.data(), bytes.size());
    TANGRAM_ASSIGN_OR_RETURN(auto a,
                             world.ISend(lengths.back().get(), 1, DataType::kI64, move.to, tag));
    TANGRAM_ASSIGN_OR_RETURN(auto b, world.ISend(buffers.back()->data(), buffers.back()->size(),
                                                 DataType::kI32, move.to, tag + 1));
    pending.push_back(std::move(a));
    pending.push_back(std::move(b));
  }
  std::map<std::string, train::LayerState> received;
  for (const auto& move : moves) {
    if (move.to != me) continue;
    TANGRAM_ASSIGN_OR_RETURN(std::string bytes,
                             RecvBytes(world, move.from, TagFor(index[move.layer])));
    TANGRAM_ASSIGN_OR_RETURN(train::LayerState state,
                             train::ParseLayerState(bytes, absl::StrCat("rank ", move.from)));
    received.emplace(move.layer, std::move(state));
  }
  for (auto& request : pending) TANGRAM_RETURN_IF_ERROR(request->Wait());

  if (!role_after.active) return std::unique_ptr<train::Stage>();
  TANGRAM_ASSIGN_OR_RETURN(
      auto layers, train::BuildGptLayers(model, role_after.layer_begin, role_after.layer_end));
  auto next = std::make_unique<train::Stage>(std::move(layers));
  for (int64_t l = role_after.layer_begin; l < role_after.layer_end; ++l) {
    const std::string& name = after.layer_names[l];
    auto it = held.find(name);
    const train::LayerState* state = it != held.end() ? &it->second : nullptr;
    if (state == nullptr) {
      auto r = received.find(name);
      if (r == received.end()) {
        return absl::InternalError(absl::StrCat("rank ", me, " received no state for ", name));
      }
      state = &r->second;
    }
    TANGRAM_RETURN_IF_ERROR(next->ImportLayer(*state));
  }
  return next;
}

}  // namespace tangram::orchestrator
