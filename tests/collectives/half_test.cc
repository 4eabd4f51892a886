#include "collectives/half.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

TEST(HalfTest, Bf16RoundTripsRepresentableValues) {
  for (float v : {0.0f, -0.0f, 1.0f, -2.5f, 256.0f, 0x1p127f, 0x1p-126f}) {
    EXPECT_EQ(Bf16ToFloat(FloatToBf16(v)), v) << v;
  }
}

TEST(HalfTest, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even significand (1).
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(Bf16ToFloat(FloatToBf16(std::numeric_limits<float>::infinity()))));
}

TEST(HalfTest, F16RoundTripsAndSaturates) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(F16ToFloat(FloatToF16(v)), v) << v;
  }
  EXPECT_TRUE(std::isinf(F16ToFloat(FloatToF16(70000.0f))));
  EXPECT_TRUE(std::isnan(F16ToFloat(FloatToF16(std::numeric_limits<float>::quiet_NaN()))));
  // 2049 is halfway between 2048 and 2050 in f16: ties to even (2048).
  EXPECT_EQ(F16ToFloat(FloatToF16(2049.0f)), 2048.0f);
  EXPECT_EQ(F16ToFloat(FloatToF16(2051.0f)), 2052.0f);
}

TEST(HalfTest, F16MatchesEveryBitPatternThroughFloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float f = F16ToFloat(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(FloatToF16(f), h) << bits;
  }
}

}  // namespace
}  // namespace tangram::collectives
