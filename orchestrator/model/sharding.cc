#include "orchestrator/model/sharding.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tangram::train {
namespace {

// `t` viewed as [outer, axis length, inner] around the split axis.
struct View {
  int64_t outer = 1, length = 0, inner = 1;
};

absl::StatusOr<View> ViewOf(const Tensor& t, const Sharding& s, int tp) {
  const int rank = static_cast<int>(t.shape.size());
  if (s.axis >= rank || s.blocks < 1 || tp < 1) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": cannot split axis ",
                                                   s.axis, " of a rank-", rank, " tensor into ",
                                                   s.blocks, " blocks x ", tp));
  }
  View v;
  v.length = t.shape[s.axis];
  for (int d = 0; d < s.axis; ++d) v.outer *= t.shape[d];
  for (int d = s.axis + 1; d < rank; ++d) v.inner *= t.shape[d];
  if (v.length % (static_cast<int64_t>(s.blocks) * tp) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", t.name, ": axis ", s.axis, " of length ", v.length,
                     " does not divide into ", s.blocks, " blocks x ", tp, " shards"));
  }
  return v;
}

}  // namespace

absl::StatusOr<Tensor> SliceShard(const Tensor& full, const Sharding& s, int tp, int rank) {
  if (s.replicated() || tp == 1) return full;
  if (rank < 0 || rank >= tp) {
    return absl::InvalidArgumentError(absl::StrCat("shard ", rank, " of ", tp));
  }
  absl::StatusOr<View> v = ViewOf(full, s, tp);
  if (!v.ok()) return v.status();
  const int64_t block = v->length / s.blocks, piece = block / tp;
  Tensor shard;
  shard.name = full.name;
  shard.shape = full.shape;
  shard.shape[s.axis] = v->length / tp;
  shard.data.reserve(full.data.size() / tp);
  for (int64_t o = 0; o < v->outer; ++o) {
    for (int b = 0; b < s.blocks; ++b) {
      const int64_t first = (o * v->length + b * block + rank * piece) * v->inner;
      shard.data.insert(shard.data.end(), full.data.begin() + first,
                        full.data.begin() + first + piece * v->inner);
    }
  }
  return shard;
}

absl::StatusOr<Tensor> JoinShards(const std::vector<Tensor>& shards, const Sharding& s) {
  if (shards.empty()) return absl::InvalidArgumentError("no shards to join");
  const int tp = static_cast<int>(shards.size());
  for (const Tensor& t : shards) {
    if (t.name != shards[0].name || t.shape != shards[0].shape) {
      return absl::InvalidArgumentError(
          absl::StrCat("shards of ", shards[0].name, " disagree in name or shape (", t.name, ")"));
    }
  }
  if (s.replicated() || tp == 1) return shards[0];
  Tensor full;
  full.name = shards[0].name;
  full.shape = shards[0].shape;
  if (s.axis >= static_cast<int>(full.shape.size())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", full.name, ": no axis ", s.axis));
  }
  full.shape[s.axis] *= tp;
  absl::StatusOr<View> v = ViewOf(full, s, tp);
  if (!v.ok()) return v.status();
  const int64_t piece = v->length / s.blocks / tp;
  full.data.reserve(shards[0].data.size() * tp);
  for (int64_t o = 0; o < v->outer; ++o) {
    for (int b = 0; b < s.blocks; ++b) {
      for (int k = 0; k < tp; ++k) {
        const int64_t first = (o * s.blocks + b) * piece * v->inner;
        full.data.insert(full.data.end(), shards[k].data.begin() + first,
                         shards[k].data.begin() + first + piece * v->inner);
      }
    }
  }
  return full;
}

}  // namespace tangram::train
