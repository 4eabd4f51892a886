#include "collectives/reduce.h"

#include <cstdint>
#include <vector>

#include "collectives/half.h"
#include "collectives/types.h"
#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

TEST(ReduceTest, CombinesEachOperator) {
  std::vector<int32_t> a = {1, -5, 7}, b = {2, 3, -9};
  auto run = [&](ReduceOp op) {
    std::vector<int32_t> out = a;
    ReduceInto(out.data(), b.data(), out.size(), DataType::kI32, op);
    return out;
  };
  EXPECT_EQ(run(ReduceOp::kSum), (std::vector<int32_t>{3, -2, -2}));
  EXPECT_EQ(run(ReduceOp::kMax), (std::vector<int32_t>{2, 3, 7}));
  EXPECT_EQ(run(ReduceOp::kMin), (std::vector<int32_t>{1, -5, -9}));
  std::vector<int32_t> avg = run(ReduceOp::kAvg);
  FinishAverage(avg.data(), avg.size(), DataType::kI32, ReduceOp::kAvg, 2);
  EXPECT_EQ(avg, (std::vector<int32_t>{1, -1, -1}));  // truncates toward zero
}

TEST(ReduceTest, Bf16AccumulatesInFloat) {
  // 256 + 1 is not representable in bf16 (8 significant bits): rounds back to 256, but within
  // one combine the addition itself is done in f32.
  std::vector<uint16_t> x = {FloatToBf16(256.0f), FloatToBf16(1.5f)};
  std::vector<uint16_t> y = {FloatToBf16(1.0f), FloatToBf16(1.5f)};
  ReduceInto(x.data(), y.data(), 2, DataType::kBF16, ReduceOp::kSum);
  EXPECT_EQ(Bf16ToFloat(x[0]), 256.0f);
  EXPECT_EQ(Bf16ToFloat(x[1]), 3.0f);
}

TEST(ReduceTest, ParsesNames) {
  EXPECT_EQ(*ParseDataType("bf16"), DataType::kBF16);
  EXPECT_EQ(*ParseAlgorithm("halving_doubling"), Algorithm::kHalvingDoubling);
  EXPECT_FALSE(ParseReduceOp("prod").ok());
}

}  // namespace
}  // namespace tangram::collectives
