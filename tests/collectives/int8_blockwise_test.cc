// The host int8 codec: the properties a training loop relies on. Each value comes back within
// half a quantisation step of what was sent; the scale is max|x| / 127 so the extremes are
// exact; with error feedback nothing is lost over time (the running sum of what was sent trails
// the running sum of the gradients by at most half a step), where without it small values
// vanish forever; and a NaN or Inf block is visible as NaN without poisoning later steps.
#include "crosslink/collectives/compression/int8_blockwise.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

struct Encoded {
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<float> values;  // dequantised
};

Encoded RoundTrip(const std::vector<float>& x, float* error_feedback) {
  Encoded e;
  e.q.resize(x.size());
  e.scales.resize(Int8NumBlocks(x.size()));
  e.values.resize(x.size());
  Int8QuantizeBlockwise(x.data(), x.size(), error_feedback, e.q.data(), e.scales.data());
  Int8DequantizeBlockwise(e.q.data(), e.scales.data(), x.size(), e.values.data());
  return e;
}

std::vector<float> Random(size_t count, float spread, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-spread, spread);
  std::vector<float> x(count);
  for (float& v : x) v = u(rng);
  return x;
}

TEST(Int8BlockwiseTest, RoundTripErrorIsWithinHalfAStepPerElement) {
  for (float spread : {1e-6f, 1.0f, 3e4f}) {
    for (size_t count : {size_t{1}, size_t{255}, size_t{256}, size_t{257}, size_t{5000}}) {
      const std::vector<float> x = Random(count, spread, count);
      const Encoded e = RoundTrip(x, nullptr);
      ASSERT_EQ(e.scales.size(), (count + 255) / 256);
      for (size_t i = 0; i < count; ++i) {
        const float scale = e.scales[i / kInt8BlockSize];
        // Half a step, plus the rounding of v / scale and of q * scale (a few float32 ulps).
        ASSERT_LE(std::fabs(x[i] - e.values[i]), scale * 0.5f * (1 + 1e-5f))
            << "spread " << spread << " count " << count << " element " << i;
        ASSERT_GE(e.q[i], -127);
        ASSERT_LE(e.q[i], 127);
      }
    }
  }
}

TEST(Int8BlockwiseTest, ScaleIsBlockMaxOver127AndTheMaxIsSentExactlyAsPlusMinus127) {
  std::vector<float> x(512, 0.25f);
  x[10] = -8.0f;  // block 0's largest magnitude
  x[300] = 2.0f;  // block 1's
  const Encoded e = RoundTrip(x, nullptr);
  EXPECT_EQ(e.scales[0], 8.0f / 127.0f);
  EXPECT_EQ(e.scales[1], 2.0f / 127.0f);
  EXPECT_EQ(e.q[10], -127);
  EXPECT_EQ(e.q[300], 127);
  EXPECT_FLOAT_EQ(e.values[10], -8.0f);
}

TEST(Int8BlockwiseTest, ZeroBlockHasZeroScaleAndZeroValues) {
  const std::vector<float> x(300, 0.0f);
  std::vector<float> feedback(300, 0.0f);
  const Encoded e = RoundTrip(x, feedback.data());
  for (float s : e.scales) EXPECT_EQ(s, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(e.q[i], 0);
    EXPECT_EQ(e.values[i], 0.0f);
    EXPECT_EQ(feedback[i], 0.0f);
  }
}

TEST(Int8BlockwiseTest, ErrorFeedbackKeepsTheCumulativeErrorBoundedOverManySteps) {
  // Each block has one large entry and many small ones that round to 0 on their own: without
  // feedback they are never sent; with feedback their sum arrives, late by at most half a step.
  const size_t count = 1024;
  const int steps = 200;
  std::vector<float> feedback(count, 0.0f);
  std::vector<double> sent_with(count, 0.0), sent_without(count, 0.0), truth(count, 0.0);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> small(0.0005f, 0.002f);
  double max_half_step = 0.0;
  for (int t = 0; t < steps; ++t) {
    std::vector<float> x(count);
    for (size_t i = 0; i < count; ++i) x[i] = i % kInt8BlockSize == 0 ? 1.0f : small(rng);
    const Encoded with = RoundTrip(x, feedback.data());
    const Encoded without = RoundTrip(x, nullptr);
    for (size_t i = 0; i < count; ++i) {
      truth[i] += x[i];
      sent_with[i] += with.values[i];
      sent_without[i] += without.values[i];
    }
    for (float s : with.scales) max_half_step = std::max(max_half_step, 0.5 * s);
  }
  double worst_with = 0.0, worst_without = 0.0;
  for (size_t i = 0; i < count; ++i) {
    worst_with = std::max(worst_with, std::fabs(truth[i] - sent_with[i]));
    worst_without = std::max(worst_without, std::fabs(truth[i] - sent_without[i]));
    // What was sent plus what is still owed is what was produced.
    EXPECT_NEAR(sent_with[i] + feedback[i], truth[i], 1e-4) << "element " << i;
  }
  EXPECT_LE(worst_with, max_half_step * 1.001 + 1e-5);
  // Without feedback the small entries (~0.00125 each, 200 steps) are lost: ~0.25 per element.
  EXPECT_GT(worst_without, 0.1);
}

TEST(Int8BlockwiseTest, NonFiniteBlockBecomesNaNAndResetsItsFeedbackOnly) {
  std::vector<float> x = Random(512, 1.0f, 9);
  std::vector<float> feedback(512, 0.01f);
  x[3] = std::numeric_limits<float>::infinity();
  const Encoded e = RoundTrip(x, feedback.data());
  EXPECT_TRUE(std::isnan(e.scales[0]));
  EXPECT_FALSE(std::isnan(e.scales[1]));
  for (size_t i = 0; i < 256; ++i) {
    EXPECT_TRUE(std::isnan(e.values[i])) << i;
    EXPECT_EQ(feedback[i], 0.0f) << i;
  }
  for (size_t i = 256; i < 512; ++i) {
    EXPECT_LE(std::fabs(x[i] + 0.01f - e.values[i]), e.scales[1] * 0.5f * (1 + 1e-5f)) << i;
    EXPECT_TRUE(std::isfinite(feedback[i]));
  }
}

}  // namespace
}  // namespace crosslink::collectives
