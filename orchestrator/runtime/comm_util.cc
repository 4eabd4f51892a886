#include "orchestrator/runtime/comm_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace tangram::orchestrator {

using collectives::DataType;

absl::Status BroadcastString(collectives::Communicator& comm, int root, std::string* text) {
  int64_t length = comm.rank() == root ? static_cast<int64_t>(text->size()) : 0;
  TANGRAM_RETURN_IF_ERROR(comm.Broadcast(&length, 1, DataType::kI64, root));
  if (length < 0 || length > (int64_t{1} << 32)) {
    return absl::DataLossError("broadcast string: implausible length");
  }
  text->resize(static_cast<size_t>(length));
  if (length == 0) return absl::OkStatus();
  // The API has no byte type: text travels as zero-padded 32-bit words.
  std::vector<int32_t> words((length + 3) / 4, 0);
  if (comm.rank() == root) std::memcpy(words.data(), text->data(), length);
  TANGRAM_RETURN_IF_ERROR(comm.Broadcast(words.data(), words.size(), DataType::kI32, root));
  std::memcpy(text->data(), words.data(), length);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> AllGatherStrings(collectives::Communicator& comm,
                                                          const std::string& mine) {
  int n = comm.size();
  int64_t my_words = static_cast<int64_t>((mine.size() + 3) / 4);
  int64_t my_length = static_cast<int64_t>(mine.size());
  std::vector<int64_t> lengths(n), word_counts(n);
  TANGRAM_RETURN_IF_ERROR(comm.AllGather(&my_length, lengths.data(), 1, DataType::kI64));
  TANGRAM_RETURN_IF_ERROR(comm.AllGather(&my_words, word_counts.data(), 1, DataType::kI64));
  std::vector<size_t> counts(n);
  size_t total = 0;
  for (int r = 0; r < n; ++r) {
    counts[r] = static_cast<size_t>(word_counts[r]);
    total += counts[r];
  }
  std::vector<int32_t> send(my_words, 0);
  if (!mine.empty()) std::memcpy(send.data(), mine.data(), mine.size());
  std::vector<int32_t> recv(total);
  TANGRAM_RETURN_IF_ERROR(
      comm.AllGatherV(send.data(), recv.data(), absl::MakeConstSpan(counts), DataType::kI32));
  std::vector<std::string> out(n);
  size_t offset = 0;
  for (int r = 0; r < n; ++r) {
    out[r].assign(reinterpret_cast<const char*>(recv.data() + offset), lengths[r]);
    offset += counts[r];
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> AllGatherStringsAfter(collectives::Communicator& comm,
                                                               const std::string& mine,
                                                               absl::Duration phase) {
  const absl::Duration saved = comm.default_timeout();
  if (phase == absl::InfiniteDuration()) return AllGatherStrings(comm, mine);
  comm.SetDefaultTimeout(saved + phase);
  absl::StatusOr<std::vector<std::string>> out = AllGatherStrings(comm, mine);
  comm.SetDefaultTimeout(saved);
  return out;
}

absl::Status CommTensorParallelGroup::AllReduceSum(float* data, int64_t count) {
  if (size() == 1) return absl::OkStatus();
  absl::Time start = absl::Now();
  absl::Status status = comm_->AllReduce(data, data, static_cast<size_t>(count), DataType::kF32,
                                         collectives::ReduceOp::kSum);
  seconds_ += absl::ToDoubleSeconds(absl::Now() - start);
  return status;
}

std::string PackLayerStates(const std::vector<train::LayerState>& states) {
  std::string out;
  for (const train::LayerState& state : states) {
    std::string bytes = train::SerializeLayerState(state);
    uint64_t length = bytes.size();
    out.append(reinterpret_cast<const char*>(&length), sizeof(length));
    out += bytes;
  }
  return out;
}

absl::StatusOr<std::vector<train::LayerState>> UnpackLayerStates(absl::string_view bytes,
                                                                 absl::string_view source) {
  std::vector<train::LayerState> states;
  size_t at = 0;
  while (at < bytes.size()) {
    uint64_t length = 0;
    if (bytes.size() - at < sizeof(length)) break;
    std::memcpy(&length, bytes.data() + at, sizeof(length));
    at += sizeof(length);
    if (length > bytes.size() - at) break;
    TANGRAM_ASSIGN_OR_RETURN(train::LayerState state,
                             train::ParseLayerState(bytes.substr(at, length), source));
    states.push_back(std::move(state));
    at += length;
  }
  if (at != bytes.size()) {
    return absl::DataLossError(absl::StrCat(source, ": layer states are truncated"));
  }
  return states;
}

absl::StatusOr<std::vector<train::LayerState>> GatherWholeLayers(collectives::Communicator* tp_comm,
                                                                 train::Stage& stage) {
  std::vector<train::LayerState> mine;
  for (int64_t i = 0; i < stage.size(); ++i) mine.push_back(stage.ExportLayer(i));
  if (tp_comm == nullptr || tp_comm->size() == 1) return mine;
  TANGRAM_ASSIGN_OR_RETURN(auto gathered, AllGatherStrings(*tp_comm, PackLayerStates(mine)));
  std::vector<std::vector<train::LayerState>> shards;  // [tp rank][layer]
  for (size_t k = 0; k < gathered.size(); ++k) {
    TANGRAM_ASSIGN_OR_RETURN(
        auto states, UnpackLayerStates(gathered[k], absl::StrCat("tensor-parallel rank ", k)));
    if (states.size() != mine.size()) {
      return absl::DataLossError(absl::StrCat("tensor-parallel rank ", k, " holds ", states.size(),
                                              " layers, this rank ", mine.size()));
    }
    shards.push_back(std::move(states));
  }
  std::vector<train::LayerState> whole;
  for (size_t l = 0; l < mine.size(); ++l) {
    std::vector<train::LayerState> parts;
    for (auto& rank_states : shards) parts.push_back(std::move(rank_states[l]));
    TANGRAM_ASSIGN_OR_RETURN(
        train::LayerState joined,
        train::JoinLayerStates(parts, stage.layer(static_cast<int64_t>(l)).parameter_sharding()));
    whole.push_back(std::move(joined));
  }
  return whole;
}

}  // namespace tangram::orchestrator
