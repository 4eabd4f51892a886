// Ring reduce-scatter: at step s member m sends its partial sum of block m-s-1 to m+1 and adds
// its own contribution to the partial of block m-s-2 received from m-1. After p-1 steps the
// partial that arrives last is block m, complete. Two block-sized scratch buffers; the input is
// never written, so send may alias recv_block.
//
// Pipelined (group.pipeline_chunk_bytes > 0 and blocks larger than one chunk): blocks are cut
// into sub-chunk cells (at most kMaxChunks per block) that travel the ring one by one, so that
// while a member reduces cell i of a step, cell i+1 is already on its way and the next member
// can start on cell i of the following step. The same bytes in (p-1)·cells messages.
#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/reduce.h"

namespace tangram::collectives {
namespace {

// More sub-chunks than this per block buys no more overlap, only more messages.
constexpr size_t kMaxChunks = 16;

int Block(int b, int p) { return ((b % p) + p) % p; }

// The textbook schedule: one SendRecv of a whole block per step, then its reduction. Returns
// the buffer that holds our complete block.
absl::StatusOr<char*> WholeBlocks(const Group& group, const char* in,
                                  absl::Span<const size_t> offset, absl::Span<const size_t> counts,
                                  DataType type, ReduceOp op, char* partial, char* incoming) {
  const int p = group.size();
  const int me = group.me;
  const size_t element = DataTypeSize(type);
  const int next = (me + 1) % p;
  const int prev = (me + p - 1) % p;
  int send_block = Block(me - 1, p);
  const char* send_ptr = in + offset[send_block];  // step 0 sends our own contribution
  for (int step = 0; step < p - 1; ++step) {
    const int recv_block = Block(me - step - 2, p);
    const size_t recv_bytes = counts[recv_block] * element;
    TANGRAM_RETURN_IF_ERROR(
        group.SendRecv(next, send_ptr, counts[send_block] * element, prev, incoming, recv_bytes));
    ReduceInto(incoming, in + offset[recv_block], counts[recv_block], type, op);
    group.transport->ChargeReduction(recv_bytes);
    std::swap(partial, incoming);
    send_ptr = partial;
    send_block = recv_block;
  }
  return partial;  // send_block == me: our complete block
}

// The pipelined schedule. Every block is cut on one grid of `chunk` elements (cell i covers
// elements [i·chunk, (i+1)·chunk) of whichever block, truncated to its count), so that cell i of
// one block overlaps only cell i of another. Step s receives into buffers[s % 2] and sends, at
// step s+1, from there; before cell i of a buffer is received into again, the send that read it
// two steps earlier is waited for. Messages on the ring go out and are posted for in (step, cell)
// order on both sides, so they match in order.
absl::StatusOr<char*> Pipelined(const Group& group, const char* in, absl::Span<const size_t> offset,
                                absl::Span<const size_t> counts, DataType type, ReduceOp op,
                                size_t chunk, size_t cells, char* buffers[2]) {
  const int p = group.size();
  const int me = group.me;
  const size_t element = DataTypeSize(type);
  Transport& transport = *group.transport;
  const int next = group.ranks[(me + 1) % p];
  const int prev = group.ranks[(me + p - 1) % p];
  // Cell i of block b: first element and element count.
  auto cell = [&](int b, size_t i) {
    const size_t first = std::min(i * chunk, counts[b]);
    return std::make_pair(first, std::min(first + chunk, counts[b]) - first);
  };
  std::vector<std::unique_ptr<TransportRequest>> sends(cells), recvs(cells);
  auto post_recv = [&](int step, size_t i) -> absl::Status {
    const auto [first, n] = cell(Block(me - step - 2, p), i);
    TANGRAM_ASSIGN_OR_RETURN(
        recvs[i],
        transport.IRecv(prev, group.tag, buffers[step % 2] + first * element, n * element));
    return absl::OkStatus();
  };
  auto post_send = [&](int step, size_t i) -> absl::Status {
    const int b = Block(me - step - 1, p);
    const auto [first, n] = cell(b, i);
    // Step 0 sends our own contribution; later steps the partial reduced one step earlier.
    const char* from = step == 0 ? in + offset[b] : buffers[(step - 1) % 2];
    TANGRAM_ASSIGN_OR_RETURN(sends[i],
                             transport.ISend(next, group.tag, from + first * element, n * element));
    return absl::OkStatus();
  };
  for (size_t i = 0; i < cells; ++i) TANGRAM_RETURN_IF_ERROR(post_recv(0, i));
  for (size_t i = 0; i < cells; ++i) TANGRAM_RETURN_IF_ERROR(post_send(0, i));
  for (int step = 0; step < p - 1; ++step) {
    const int b = Block(me - step - 2, p);
    for (size_t i = 0; i < cells; ++i) {
      TANGRAM_RETURN_IF_ERROR(recvs[i]->Wait(group.deadline));
      const auto [first, n] = cell(b, i);
      ReduceInto(buffers[step % 2] + first * element, in + offset[b] + first * element, n, type,
                 op);
      transport.ChargeReduction(n * element);
      if (step + 1 < p - 1) {
        TANGRAM_RETURN_IF_ERROR(sends[i]->Wait(group.deadline));
        TANGRAM_RETURN_IF_ERROR(post_recv(step + 1, i));
        TANGRAM_RETURN_IF_ERROR(post_send(step + 1, i));
      }
    }
  }
  for (size_t i = 0; i < cells; ++i) TANGRAM_RETURN_IF_ERROR(sends[i]->Wait(group.deadline));
  return buffers[(p - 2) % 2];
}

}  // namespace

absl::Status RingReduceScatter(const Group& group, const void* send, void* recv_block,
                               absl::Span<const size_t> counts, DataType type, ReduceOp op) {
  const int p = group.size();
  const int me = group.me;
  const size_t element = DataTypeSize(type);
  const char* in = static_cast<const char*>(send);
  if (p == 1) {
    if (counts[0] > 0 && recv_block != send) std::memmove(recv_block, in, counts[0] * element);
    FinishAverage(recv_block, counts[0], type, op, 1);
    return absl::OkStatus();
  }
  std::vector<size_t> offset(p + 1, 0);
  for (int i = 0; i < p; ++i) offset[i + 1] = offset[i] + counts[i] * element;
  const size_t max_count = *std::max_element(counts.begin(), counts.end());
  const size_t max_bytes = max_count * element;
  Scratch local;
  Scratch& scratch = group.scratch != nullptr ? *group.scratch : local;
  char* buffers[2] = {scratch.Get(2 * max_bytes), nullptr};
  buffers[1] = buffers[0] + max_bytes;

  // Cells per block: about one per pipeline_chunk_bytes of the largest block, within
  // [1, kMaxChunks] and no more than it has elements.
  size_t cells = 1;
  if (group.pipeline_chunk_bytes > 0) {
    cells = std::clamp<size_t>(max_bytes / group.pipeline_chunk_bytes, 1,
                               std::min(kMaxChunks, std::max<size_t>(max_count, 1)));
  }
  const size_t chunk = (max_count + cells - 1) / std::max<size_t>(cells, 1);
  if (cells > 1) cells = (max_count + chunk - 1) / chunk;  // no cell left empty in every block
  absl::StatusOr<char*> result =
      cells <= 1 ? WholeBlocks(group, in, offset, counts, type, op, buffers[0], buffers[1])
                 : Pipelined(group, in, offset, counts, type, op, chunk, cells, buffers);
  if (!result.ok()) return result.status();
  if (counts[me] > 0) std::memcpy(recv_block, *result, counts[me] * element);
  FinishAverage(recv_block, counts[me], type, op, p);
  return absl::OkStatus();
}

std::vector<size_t> EvenCounts(size_t count, int parts) {
  std::vector<size_t> counts(parts, count / parts);
  for (size_t i = 0; i < count % parts; ++i) ++counts[i];
  return counts;
}

}  // namespace tangram::collectives
