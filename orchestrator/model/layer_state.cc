#include "orchestrator/model/layer_state.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tangram::train {
namespace {

constexpr absl::string_view kMagic = "TGLAYER1";

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}
void PutString(std::string& out, const std::string& s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
void PutFloats(std::string& out, const std::vector<float>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Reads from `bytes`, remembering the first failure.
class Reader {
 public:
  explicit Reader(absl::string_view bytes) : bytes_(bytes) {}
  bool Take(void* dst, size_t n) {
    if (!ok_ || bytes_.size() < n) return ok_ = false;
    std::memcpy(dst, bytes_.data(), n);
    bytes_.remove_prefix(n);
    return true;
  }
  template <typename T>
  T Get() {
    T value{};
    Take(&value, sizeof(T));
    return value;
  }
  std::string GetString() {
    const uint32_t n = Get<uint32_t>();
    if (!ok_ || bytes_.size() < n) return ok_ = false, std::string();
    std::string s(bytes_.substr(0, n));
    bytes_.remove_prefix(n);
    return s;
  }
  void GetFloats(std::vector<float>& v, int64_t n) {
    if (!ok_ || n < 0 || bytes_.size() / sizeof(float) < static_cast<uint64_t>(n)) {
      ok_ = false;
      return;
    }
    v.resize(static_cast<size_t>(n));
    Take(v.data(), static_cast<size_t>(n) * sizeof(float));
  }
  bool ok() const { return ok_; }
  size_t remaining() const { return bytes_.size(); }

 private:
  absl::string_view bytes_;
  bool ok_ = true;
};

}  // namespace

LayerState ExportLayerState(Layer& layer, const AdamState& optimizer) {
  LayerState state;
  state.layer = layer.name();
  for (const Tensor* p : layer.parameters()) state.params.push_back(*p);
  state.optimizer = optimizer;
  return state;
}

absl::Status ImportLayerState(const LayerState& state, Layer& layer, AdamState* optimizer) {
  if (state.layer != layer.name()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state of layer ", state.layer, " loaded into layer ", layer.name()));
  }
  std::vector<Tensor*> params = layer.parameters();
  if (state.params.size() != params.size() || state.optimizer.m.size() != params.size() ||
      state.optimizer.v.size() != params.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        layer.name(), ": state has ", state.params.size(), " tensors, layer has ", params.size()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& s = state.params[i];
    if (s.name != params[i]->name || s.size() != params[i]->size() ||
        state.optimizer.m[i].size() != s.size() || state.optimizer.v[i].size() != s.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(layer.name(), ": state tensor ", s.name, " (", s.size(),
                       " values) does not match ", params[i]->name, " (", params[i]->size(), ")"));
    }
  }
  for (size_t i = 0; i < params.size(); ++i) params[i]->data = state.params[i].data;
  *optimizer = state.optimizer;
  return absl::OkStatus();
}

namespace {
Sharding ShardingOf(const std::vector<Sharding>& sharding, size_t i) {
  return i < sharding.size() ? sharding[i] : Sharding{};
}
}  // namespace

absl::StatusOr<LayerState> SliceLayerState(const LayerState& whole,
                                           const std::vector<Sharding>& sharding, int tp,
                                           int rank) {
  if (whole.optimizer.m.size() != whole.params.size() ||
      whole.optimizer.v.size() != whole.params.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(whole.layer, ": optimizer state does not match the parameters"));
  }
  LayerState shard;
  shard.layer = whole.layer;
  shard.optimizer.step = whole.optimizer.step;
  for (size_t i = 0; i < whole.params.size(); ++i) {
    const Sharding s = ShardingOf(sharding, i);
    absl::StatusOr<Tensor> p = SliceShard(whole.params[i], s, tp, rank);
    absl::StatusOr<Tensor> m = SliceShard(whole.optimizer.m[i], s, tp, rank);
    absl::StatusOr<Tensor> v = SliceShard(whole.optimizer.v[i], s, tp, rank);
    for (const auto* t : {&p, &m, &v}) {
      if (!t->ok()) return t->status();
    }
    shard.params.push_back(std::move(*p));
    shard.optimizer.m.push_back(std::move(*m));
    shard.optimizer.v.push_back(std::move(*v));
  }
  return shard;
}

absl::StatusOr<LayerState> JoinLayerStates(const std::vector<LayerState>& shards,
                                           const std::vector<Sharding>& sharding) {
  if (shards.empty()) return absl::InvalidArgumentError("no layer shards to join");
  const LayerState& first = shards[0];
  for (const LayerState& s : shards) {
    if (s.layer != first.layer || s.params.size() != first.params.size() ||
        s.optimizer.m.size() != first.params.size() ||
        s.optimizer.v.size() != first.params.size() || s.optimizer.step != first.optimizer.step) {
      return absl::InvalidArgumentError(
          absl::StrCat("shards of layer ", first.layer, " disagree (", s.layer, ")"));
    }
  }
  LayerState whole;
  whole.layer = first.layer;
  whole.optimizer.step = first.optimizer.step;
  for (size_t i = 0; i < first.params.size(); ++i) {
    std::vector<Tensor> p, m, v;
    for (const LayerState& s : shards) {
      p.push_back(s.params[i]);
      m.push_back(s.optimizer.m[i]);
      v.push_back(s.optimizer.v[i]);
    }
    const Sharding s = ShardingOf(sharding, i);
    absl::StatusOr<Tensor> jp = JoinShards(p, s), jm = JoinShards(m, s), jv = JoinShards(v, s);
    for (const auto* t : {&jp, &jm, &jv}) {
      if (!t->ok()) return t->status();
    }
    whole.params.push_back(std::move(*jp));
    whole.optimizer.m.push_back(std::move(*jm));
    whole.optimizer.v.push_back(std::move(*jv));
  }
  return whole;
}

std::string SerializeLayerState(const LayerState& state) {
  std::string out(kMagic);
  PutString(out, state.layer);
  Put<int64_t>(out, state.optimizer.step);
  Put<uint32_t>(out, static_cast<uint32_t>(state.params.size()));
  for (size_t i = 0; i < state.params.size(); ++i) {
    const Tensor& p = state.params[i];
    PutString(out, p.name);
    Put<uint32_t>(out, static_cast<uint32_t>(p.shape.size()));
    for (int64_t d : p.shape) Put<int64_t>(out, d);
    PutFloats(out, p.data);
    PutFloats(out, state.optimizer.m[i].data);
    PutFloats(out, state.optimizer.v[i].data);
  }
  return out;
}

absl::StatusOr<LayerState> ParseLayerState(absl::string_view bytes, absl::string_view source) {
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(source, ": not a valid layer state (", why, ")"));
  };
  if (bytes.substr(0, kMagic.size()) != kMagic) return corrupt("bad header");
  Reader r(bytes.substr(kMagic.size()));
  LayerState state;
  state.layer = r.GetString();
  state.optimizer.step = r.Get<int64_t>();
  const uint32_t count = r.Get<uint32_t>();
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    Tensor p;
    p.name = r.GetString();
    const uint32_t rank = r.Get<uint32_t>();
    if (rank > 8) return corrupt(absl::StrCat("tensor ", p.name, " has rank ", rank));
    int64_t n = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      p.shape.push_back(r.Get<int64_t>());
      if (p.shape.back() < 0) return corrupt(absl::StrCat("tensor ", p.name, " has a bad shape"));
      n *= p.shape.back();
    }
    Tensor m = Tensor{p.name, p.shape, {}}, v = m;
    r.GetFloats(p.data, n);
    r.GetFloats(m.data, n);
    r.GetFloats(v.data, n);
    state.params.push_back(std::move(p));
    state.optimizer.m.push_back(std::move(m));
    state.optimizer.v.push_back(std::move(v));
  }
  if (!r.ok()) return corrupt("truncated");
  if (r.remaining() != 0) return corrupt(absl::StrCat(r.remaining(), " trailing bytes"));
  return state;
}

}  // namespace tangram::train
