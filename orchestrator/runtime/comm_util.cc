#include "orchestrator/runtime/comm_util.h"

#include <cstring>

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

}  // namespace tangram::orchestrator
