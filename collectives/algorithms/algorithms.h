// The collective algorithms, each built only on point-to-point messages within a Group, so that
// every transport offering ISend/IRecv (sim, MPI) runs all of them. One file per algorithm.
//
// Common contract: every member calls the same function with the same counts, type, op and root;
// buffers are host memory; `send` may equal `recv` (in place) unless stated otherwise. On error
// the output is unspecified and the caller (the communicator) aborts the group. Every algorithm
// finishes kAvg itself (divides by the group size once). Thread-compatible.
#ifndef TANGRAM_COLLECTIVES_ALGORITHMS_ALGORITHMS_H_
#define TANGRAM_COLLECTIVES_ALGORITHMS_ALGORITHMS_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "collectives/algorithms/group.h"
#include "collectives/types.h"

namespace tangram::collectives {

// Ring reduce-scatter (ring_reduce_scatter.cc): `send` holds the blocks of every member back to
// back, block i having counts[i] elements; member i ends with the reduced block i in `recv_block`.
// p-1 steps, each sending one block to the next member. Finishes kAvg. With
// group.pipeline_chunk_bytes > 0 each block travels as sub-chunk cells of about that size,
// pipelined (same result; more messages, reduction overlapped with transfer).
absl::Status RingReduceScatter(const Group& group, const void* send, void* recv_block,
                               absl::Span<const size_t> counts, DataType type, ReduceOp op);

// Ring allgather of uneven blocks (ring_allgather.cc), in place: `buffer` holds every block back
// to back and this member's block is already in place. p-1 steps.
absl::Status RingAllGatherV(const Group& group, void* buffer, absl::Span<const size_t> counts,
                            DataType type);

// Ring allreduce (allreduce_ring.cc): reduce-scatter then allgather over p chunks.
// 2(p-1) steps of about n/p bytes each.
absl::Status RingAllReduce(const Group& group, const void* send, void* recv, size_t count,
                           DataType type, ReduceOp op);

// Recursive halving (reduce-scatter) then doubling (allgather), Rabenseifner's allreduce
// (allreduce_halving_doubling.cc). With p not a power of two, the first 2r members (r = p - 2^k)
// pair up: even ones hand their vector to their odd neighbour before, and get the result after.
absl::Status HalvingDoublingAllReduce(const Group& group, const void* send, void* recv,
                                      size_t count, DataType type, ReduceOp op);

// Binary-tree broadcast and reduce rooted at member `root` (tree.cc): ceil(log2(p+1))-1 levels,
// whole messages. Reduce writes `recv` on the root only and finishes kAvg there.
absl::Status TreeBroadcast(const Group& group, void* buffer, size_t bytes, int root);
absl::Status TreeReduce(const Group& group, const void* send, void* recv, size_t count,
                        DataType type, ReduceOp op, int root);

// Tree allreduce: TreeReduce to member 0 then TreeBroadcast (allreduce_tree.cc).
absl::Status TreeAllReduce(const Group& group, const void* send, void* recv, size_t count,
                           DataType type, ReduceOp op);

// Two-level allreduce (allreduce_hierarchical.cc). `locality[i]` names the node or island of
// member i. When every locality has the same number of members: ring reduce-scatter inside each
// locality, allreduce of each shard across localities (among members with the same local index),
// ring allgather inside. Otherwise: tree reduce to each locality's leader (its lowest member),
// allreduce among leaders, tree broadcast inside.
absl::Status HierarchicalAllReduce(const Group& group, const std::vector<int>& locality,
                                   const void* send, void* recv, size_t count, DataType type,
                                   ReduceOp op);

// Naive baseline (allreduce_flat.cc): every member sends its vector to member 0, which combines
// them in order and sends the result to every member. For benchmarks.
absl::Status FlatAllReduce(const Group& group, const void* send, void* recv, size_t count,
                           DataType type, ReduceOp op);

// Dissemination barrier (barrier.cc): ceil(log2 p) rounds of empty messages.
absl::Status DisseminationBarrier(const Group& group);

// Splits `count` elements into `parts` blocks whose sizes differ by at most one (the first
// count % parts blocks get the extra element).
std::vector<size_t> EvenCounts(size_t count, int parts);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ALGORITHMS_ALGORITHMS_H_
