// Group: the ranks one collective runs over, as seen by an algorithm.
//
// Algorithms address members by their index in the group; the group maps an index to a rank of
// the underlying Transport. That lets one transport serve sub-groups without creating new
// transports — the hierarchical allreduce runs ring and halving-doubling on "my node" and "the
// leaders" this way. A Group is a small value used by one thread.
#ifndef TANGRAM_COLLECTIVES_ALGORITHMS_GROUP_H_
#define TANGRAM_COLLECTIVES_ALGORITHMS_GROUP_H_

#include <cstddef>
#include <memory>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "collectives/transport.h"

namespace tangram::collectives {

// Scratch memory for the algorithms, kept between calls by its owner (a communicator) so that a
// collective neither allocates nor has fresh pages faulted in (and zeroed) on every call. One
// algorithm at a time uses it; the contents do not survive from one Get to the next.
class Scratch {
 public:
  // At least `bytes` bytes, uninitialised.
  char* Get(size_t bytes) {
    if (bytes > size_) {
      data_.reset(new char[bytes]);
      size_ = bytes;
    }
    return data_.get();
  }
  // Frees the memory when it holds more than `keep_bytes`, so that one huge call does not pin
  // its scratch for the communicator's lifetime.
  void Trim(size_t keep_bytes) {
    if (size_ > keep_bytes) {
      data_.reset();
      size_ = 0;
    }
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

struct Group {
  Transport* transport = nullptr;
  std::vector<int> ranks;  // transport rank of each member, in group order
  int me = 0;              // this rank's index in `ranks`
  int tag = kCollectiveTag;
  absl::Time deadline = absl::InfiniteFuture();
  // Ring reduce-scatter splits each block into sub-chunks of about this many bytes and pipelines
  // them; 0 sends whole blocks (see algorithms.h). From Transport::PipelineChunkBytes.
  size_t pipeline_chunk_bytes = 0;
  Scratch* scratch = nullptr;  // may be null: algorithms then allocate their own

  // Every rank of `transport`, in rank order.
  static Group Whole(Transport& transport, absl::Time deadline) {
    Group group;
    group.transport = &transport;
    group.pipeline_chunk_bytes = transport.PipelineChunkBytes();
    group.ranks.resize(transport.size());
    std::iota(group.ranks.begin(), group.ranks.end(), 0);
    group.me = transport.rank();
    group.deadline = deadline;
    return group;
  }

  // The members whose index is listed in `members` (which must contain `me`), same transport.
  Group Subset(const std::vector<int>& members) const {
    Group group;
    group.transport = transport;
    group.tag = tag;
    group.deadline = deadline;
    group.pipeline_chunk_bytes = pipeline_chunk_bytes;
    group.scratch = scratch;
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i] == me) group.me = static_cast<int>(i);
      group.ranks.push_back(ranks[members[i]]);
    }
    return group;
  }

  int size() const { return static_cast<int>(ranks.size()); }

  absl::Status Send(int member, const void* data, size_t bytes) const {
    return collectives::Send(*transport, ranks[member], tag, data, bytes, deadline);
  }
  absl::Status Recv(int member, void* data, size_t bytes) const {
    return collectives::Recv(*transport, ranks[member], tag, data, bytes, deadline);
  }
  // Negative members skip that side.
  absl::Status SendRecv(int to, const void* send, size_t send_bytes, int from, void* recv,
                        size_t recv_bytes) const {
    return collectives::SendRecv(*transport, to < 0 ? -1 : ranks[to], send, send_bytes,
                                 from < 0 ? -1 : ranks[from], recv, recv_bytes, tag, deadline);
  }
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ALGORITHMS_GROUP_H_
