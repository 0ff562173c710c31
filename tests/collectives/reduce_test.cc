// fp16/bf16 conversions and the type-erased reductions.
#include "crosslink/collectives/reduce.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "crosslink/collectives/half.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

TEST(HalfTest, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0;
    if (nan) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
    } else {
      EXPECT_EQ(FloatToHalf(f), h) << std::hex << h;
    }
  }
}

TEST(HalfTest, KnownValuesInfinityAndRoundToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);  // largest finite
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // halfway to the next: rounds to even = infinity
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(FloatToHalf(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(1e-9f), 0x0000);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
  EXPECT_EQ(FloatToHalf(1.0f + 0x1.0p-11f), 0x3C00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even).
  EXPECT_EQ(FloatToHalf(1.0f + 3 * 0x1.0p-11f), 0x3C02);
  EXPECT_EQ(HalfToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
}

TEST(BFloat16Test, RoundsToNearestEvenAndKeepsNaNAndInfinity) {
  EXPECT_EQ(FloatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBFloat16(1.0f + 0x1.0p-8f), 0x3F80);      // tie -> even
  EXPECT_EQ(FloatToBFloat16(1.0f + 3 * 0x1.0p-8f), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(FloatToBFloat16(1.0f + 0x1.8p-8f), 0x3F81);      // above half -> up
  EXPECT_EQ(FloatToBFloat16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(FloatToBFloat16(std::numeric_limits<float>::max()), 0x7F80);  // overflows to inf
  // A NaN whose payload sits only in the low bits must not round into infinity.
  float nan;
  const uint32_t bits = 0x7F800001u;
  std::memcpy(&nan, &bits, 4);
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(nan))));
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = BFloat16ToFloat(static_cast<uint16_t>(b));
    if (!std::isnan(f)) EXPECT_EQ(FloatToBFloat16(f), b);
  }
}

TEST(ReduceTest, FloatOpsIncludingNaNPropagation) {
  std::vector<float> a = {1, 5, -3, NAN, 2};
  std::vector<float> b = {2, 4, -7, 1, NAN};
  std::vector<float> sum = a, mn = a, mx = a;
  GetReduceFn(DataType::kFloat32, ReduceOp::kSum)(sum.data(), b.data(), 5);
  GetReduceFn(DataType::kFloat32, ReduceOp::kMin)(mn.data(), b.data(), 5);
  GetReduceFn(DataType::kFloat32, ReduceOp::kMax)(mx.data(), b.data(), 5);
  EXPECT_EQ(sum[0], 3);
  EXPECT_EQ(mn[1], 4);
  EXPECT_EQ(mn[2], -7);
  EXPECT_EQ(mx[2], -3);
  EXPECT_TRUE(std::isnan(mn[3]) && std::isnan(mn[4]) && std::isnan(mx[3]) && std::isnan(mx[4]));
}

TEST(ReduceTest, HalfSumRoundsOncePerStepThroughFloat) {
  std::vector<uint16_t> a(1000), b(1000);
  for (int i = 0; i < 1000; ++i) {
    a[i] = FloatToHalf(i * 0.37f - 100.0f);
    b[i] = FloatToHalf(i * -0.11f + 3.3f);
  }
  std::vector<uint16_t> out = a;
  GetReduceFn(DataType::kFloat16, ReduceOp::kSum)(out.data(), b.data(), 1000);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(out[i], FloatToHalf(HalfToFloat(a[i]) + HalfToFloat(b[i]))) << i;
  }
}

TEST(ReduceTest, AvgDividesOnceAndIntegersTruncateTowardZero) {
  std::vector<int32_t> v = {7, -7, 1, 2};
  GetFinalizeFn(DataType::kInt32, ReduceOp::kAvg)(v.data(), 4, 2);
  EXPECT_EQ(v, (std::vector<int32_t>{3, -3, 0, 1}));
  std::vector<double> d = {1.0, 3.0};
  GetFinalizeFn(DataType::kFloat64, ReduceOp::kAvg)(d.data(), 2, 3);
  EXPECT_EQ(d[0], 1.0 / 3.0);
  EXPECT_EQ(GetFinalizeFn(DataType::kFloat32, ReduceOp::kSum), nullptr);
}

TEST(ReduceTest, IntegerSumWrapsInsteadOfOverflowing) {
  std::vector<int32_t> a = {std::numeric_limits<int32_t>::max()};
  std::vector<int32_t> b = {1};
  GetReduceFn(DataType::kInt32, ReduceOp::kSum)(a.data(), b.data(), 1);
  EXPECT_EQ(a[0], std::numeric_limits<int32_t>::min());
}

TEST(DataTypeTest, SizesAndNames) {
  EXPECT_EQ(DataTypeSize(DataType::kBFloat16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kInt64), 8u);
  EXPECT_EQ(DataTypeName(DataType::kFloat16), "float16");
  EXPECT_EQ(ReduceOpName(ReduceOp::kAvg), "avg");
}

}  // namespace
}  // namespace crosslink::collectives
