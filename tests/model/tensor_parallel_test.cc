// Tensor parallelism in the reference model: shards cut and joined exactly (fused QKV block by
// block), and decoder layers sharded over tp 2 and 3 (ranks as threads summing through a shared
// buffer) give the whole layer's output, input gradient and, joined, parameter gradients.
#include <barrier>
#include <cmath>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/model/sharding.h"
#include "orchestrator/model/stage.h"
#include "tests/model/test_util.h"

namespace tangram::train {
namespace {

using testing::RandomMicroBatch;
using testing::RandomTensor;

// The ranks of one group as threads: each sums every rank's buffer in rank order, so all ranks
// get the same bits.
class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : slots_(size), barrier_(size) {}
  class Member final : public TensorParallelGroup {
   public:
    Member(ThreadGroup* group, int rank) : group_(group), rank_(rank) {}
    int size() const override { return static_cast<int>(group_->slots_.size()); }
    int rank() const override { return rank_; }
    absl::Status AllReduceSum(float* data, int64_t count) override {
      group_->slots_[rank_] = data;
      group_->barrier_.arrive_and_wait();
      std::vector<float> sum(count, 0.0f);
      for (float* slot : group_->slots_) {
        for (int64_t i = 0; i < count; ++i) sum[i] += slot[i];
      }
      group_->barrier_.arrive_and_wait();
      std::copy(sum.begin(), sum.end(), data);
      return absl::OkStatus();
    }

   private:
    ThreadGroup* group_;
    int rank_;
  };

 private:
  std::vector<float*> slots_;
  std::barrier<> barrier_;
};

GptSpec SixHeads() { return GptSpec{32, 6, 12, 6, 24, 2}; }

TEST(ShardingTest, SliceAndJoinAreInverse) {
  Tensor qkv = RandomTensor({3 * 12, 12}, 1.0, 1);
  qkv.name = "qkv";
  for (int tp : {1, 2, 3, 6}) {
    for (Sharding s : {Sharding{0, 3}, Sharding{1, 1}, Sharding{-1, 1}}) {
      std::vector<Tensor> shards;
      for (int k = 0; k < tp; ++k) {
        auto shard = SliceShard(qkv, s, tp, k);
        ASSERT_TRUE(shard.ok()) << shard.status();
        shards.push_back(*shard);
      }
      if (!s.replicated() && tp > 1) {
        EXPECT_EQ(shards[0].size() * tp, qkv.size());
      }
      auto joined = JoinShards(s.replicated() ? std::vector<Tensor>{shards[0]} : shards, s);
      ASSERT_TRUE(joined.ok()) << joined.status();
      EXPECT_EQ(joined->shape, qkv.shape);
      EXPECT_EQ(joined->data, qkv.data);
    }
  }
  // Rank 1 of 2 of a fused QKV weight holds rows 6-11 of each of q, k and v.
  auto shard = SliceShard(qkv, Sharding{0, 3}, 2, 1);
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->shape, (std::vector<int64_t>{18, 12}));
  EXPECT_EQ(shard->data[0], qkv.data[6 * 12]);
  EXPECT_EQ(shard->data[6 * 12], qkv.data[18 * 12]);
  EXPECT_FALSE(SliceShard(qkv, Sharding{0, 3}, 5, 0).ok());
}

TEST(ShardingTest, HeadsNotDivisibleByTpIsAnError) {
  EXPECT_TRUE(CheckTensorParallel(SixHeads(), 3).ok());
  absl::Status s = CheckTensorParallel(SixHeads(), 4);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.message()).find("heads (6)"), std::string::npos) << s;
}

class ShardedLayerTest : public ::testing::TestWithParam<std::tuple<int, Granularity>> {};

TEST_P(ShardedLayerTest, MatchesWholeLayer) {
  const auto [tp, granularity] = GetParam();
  GptOptions whole_options;
  whole_options.spec = SixHeads();
  whole_options.granularity = granularity;
  whole_options.seed = 3;
  const int64_t count = static_cast<int64_t>(GptLayerNames(whole_options.spec, granularity).size());
  // Every decoder layer (the embedding and head are never sharded).
  Stage whole(testing::Build(whole_options, 1, count - 1));
  MicroBatch mb = RandomMicroBatch(0, 2, 6, 32, 5);
  Tensor x = RandomTensor({2, 6, 12}, 1.0, 6), dy = RandomTensor({2, 6, 12}, 1.0, 7);
  auto y = whole.Forward(mb, x);
  ASSERT_TRUE(y.ok()) << y.status();
  auto dx = whole.Backward(0, dy);
  ASSERT_TRUE(dx.ok()) << dx.status();

  ThreadGroup group(tp);
  std::vector<std::unique_ptr<ThreadGroup::Member>> members;
  std::vector<std::unique_ptr<Stage>> stages;
  for (int k = 0; k < tp; ++k) {
    members.push_back(std::make_unique<ThreadGroup::Member>(&group, k));
    GptOptions o = whole_options;
    o.tensor_parallel = members.back().get();
    stages.push_back(std::make_unique<Stage>(testing::Build(o, 1, count - 1)));
  }
  std::vector<Tensor> ys(tp), dxs(tp);
  std::vector<std::thread> threads;
  for (int k = 0; k < tp; ++k) {
    threads.emplace_back([&, k] {
      ys[k] = *stages[k]->Forward(mb, x);
      dxs[k] = *stages[k]->Backward(0, dy);
    });
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < tp; ++k) {
    ASSERT_EQ(ys[k].size(), y->size());
    for (int64_t i = 0; i < y->size(); ++i) EXPECT_NEAR(ys[k].data[i], y->data[i], 1e-5);
    for (int64_t i = 0; i < dx->size(); ++i) EXPECT_NEAR(dxs[k].data[i], dx->data[i], 1e-5);
  }
  for (int64_t l = 0; l < whole.size(); ++l) {
    const std::vector<Sharding> sharding = whole.layer(l).parameter_sharding();
    std::vector<Tensor*> grads = whole.layer(l).gradients();
    for (size_t i = 0; i < grads.size(); ++i) {
      std::vector<Tensor> shards;
      for (int k = 0; k < tp; ++k) shards.push_back(*stages[k]->layer(l).gradients()[i]);
      if (sharding[i].replicated()) {
        for (const Tensor& s : shards) EXPECT_EQ(s.data, shards[0].data) << grads[i]->name;
      } else if (tp > 1) {
        EXPECT_EQ(shards[0].size() * tp, grads[i]->size()) << grads[i]->name;
      }
      auto joined = JoinShards(sharding[i].replicated() ? std::vector<Tensor>{shards[0]} : shards,
                               sharding[i]);
      ASSERT_TRUE(joined.ok()) << joined.status();
      ASSERT_EQ(joined->size(), grads[i]->size());
      for (int64_t j = 0; j < joined->size(); ++j) {
        EXPECT_NEAR(joined->data[j], grads[i]->data[j], 1e-4) << grads[i]->name << "[" << j << "]";
      }
    }
    // Initial parameters: each rank's shard is cut from the whole layer's.
    std::vector<LayerState> states;
    AdamState none = NewAdamState(whole.layer(l));
    for (int k = 0; k < tp; ++k) {
      states.push_back(ExportLayerState(stages[k]->layer(l), NewAdamState(stages[k]->layer(l))));
    }
    auto joined = JoinLayerStates(states, sharding);
    ASSERT_TRUE(joined.ok()) << joined.status();
    LayerState reference = ExportLayerState(whole.layer(l), none);
    for (size_t i = 0; i < reference.params.size(); ++i) {
      EXPECT_EQ(joined->params[i].data, reference.params[i].data) << reference.params[i].name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tp, ShardedLayerTest,
    ::testing::Combine(::testing::Values(1, 2, 3),
                       ::testing::Values(Granularity::kBlock, Granularity::kHalfBlock)),
    [](const auto& info) {
      return absl::StrCat("Tp", std::get<0>(info.param),
                          std::get<1>(info.param) == Granularity::kBlock ? "Block" : "HalfBlock");
    });

}  // namespace
}  // namespace tangram::train
