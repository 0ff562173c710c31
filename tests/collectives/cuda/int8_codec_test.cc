// The device int8 codec against the host codec (compression/int8_blockwise.h): identical q bytes,
// scales and residuals, call after call with error feedback, for aligned and misaligned buffers,
// partial last blocks and a block holding a NaN; and the dequantisation identical too.
#include "crosslink/collectives/cuda/int8_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "crosslink/collectives/compression/int8_blockwise.h"
#include "cuda_test_util.h"
#include "gtest/gtest.h"

namespace crosslink::collectives::cuda {
namespace {

using testing::DeviceBuffer;

std::vector<float> Gradient(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> magnitude(-6.0f, 2.0f);
  std::vector<float> x(count);
  // Per-block magnitudes vary over eight decades, as gradients of different layers do.
  float block_scale = 1.0f;
  for (size_t i = 0; i < count; ++i) {
    if (i % kInt8BlockSize == 0) block_scale = std::pow(10.0f, magnitude(rng));
    x[i] = normal(rng) * block_scale;
  }
  return x;
}

void CheckAgainstHost(size_t count, size_t offset, bool feedback, bool poison) {
  const size_t blocks = Int8NumBlocks(count);
  std::vector<float> host_e(count, 0.0f);
  DeviceBuffer x(count * 4, offset * 4), e(count * 4, offset * 4), q(count, offset),
      scales(blocks * 4), out(count * 4, offset * 4);
  e.Upload(host_e);
  for (int step = 0; step < 5; ++step) {
    std::vector<float> input = Gradient(count, 100 * count + step);
    if (poison && step == 2 && count > 300) input[300] = std::numeric_limits<float>::quiet_NaN();
    x.Upload(input);
    std::vector<int8_t> host_q(count);
    std::vector<float> host_scales(blocks), host_out(count);
    Int8QuantizeBlockwise(input.data(), count, feedback ? host_e.data() : nullptr, host_q.data(),
                          host_scales.data());
    Int8DequantizeBlockwise(host_q.data(), host_scales.data(), count, host_out.data());
    ASSERT_TRUE(DeviceInt8Quantize(x.as<float>(), count, feedback ? e.as<float>() : nullptr,
                                   q.as<int8_t>(), scales.as<float>(), nullptr)
                    .ok());
    ASSERT_TRUE(
        DeviceInt8Dequantize(q.as<int8_t>(), scales.as<float>(), count, out.as<float>(), nullptr)
            .ok());
    const std::string what = ::testing::PrintToString(count) + " values, offset " +
                             ::testing::PrintToString(offset) + ", step " +
                             ::testing::PrintToString(step);
    const std::vector<int8_t> got_q = q.Download<int8_t>();
    const std::vector<uint32_t> got_scales = scales.Download<uint32_t>();
    const std::vector<uint32_t> got_out = out.Download<uint32_t>();
    ASSERT_EQ(0, std::memcmp(got_q.data(), host_q.data(), count)) << what << ": q";
    ASSERT_EQ(0, std::memcmp(got_scales.data(), host_scales.data(), blocks * 4))
        << what << ": scales";
    ASSERT_EQ(0, std::memcmp(got_out.data(), host_out.data(), count * 4))
        << what << ": dequantised";
    if (feedback) {
      const std::vector<uint32_t> got_e = e.Download<uint32_t>();
      ASSERT_EQ(0, std::memcmp(got_e.data(), host_e.data(), count * 4)) << what << ": residual";
    }
  }
}

TEST(Int8CodecTest, DeviceBytesEqualHostBytesOverRepeatedCalls) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  for (size_t count : {size_t{1}, size_t{255}, size_t{256}, size_t{257}, size_t{10000},
                       size_t{1} << 20, (size_t{1} << 20) + 6}) {
    // 4: q 4-byte and the floats 16-byte aligned, so still the vector path.
    for (size_t offset : {size_t{0}, size_t{1}, size_t{4}}) {
      for (bool feedback : {false, true}) {
        CheckAgainstHost(count, offset, feedback, /*poison=*/false);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(Int8CodecTest, NonFiniteBlockMatchesHostAndLeavesOtherBlocksAlone) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  CheckAgainstHost(4096, 0, /*feedback=*/true, /*poison=*/true);
}

TEST(Int8CodecTest, NullBuffersAreInvalidArgument) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  DeviceBuffer x(1024);
  EXPECT_EQ(DeviceInt8Quantize(x.as<float>(), 256, nullptr, nullptr, x.as<float>(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeviceInt8Dequantize(nullptr, x.as<float>(), 256, x.as<float>(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DeviceInt8Quantize(nullptr, 0, nullptr, nullptr, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace crosslink::collectives::cuda
