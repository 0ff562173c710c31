// DeviceCast against half.h, bit for bit: every fp16 and bf16 word widened; and narrowed, every
// value that is exactly representable, every rounding tie between neighbours (ties go to even)
// and one ulp either side of it, NaNs with payloads and both signs, infinities, overflow
// thresholds, float32 subnormals, and a million random bit patterns.
#include "crosslink/collectives/cuda/device_cast.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "crosslink/collectives/half.h"
#include "cuda_test_util.h"
#include "gtest/gtest.h"

namespace crosslink::collectives::cuda {
namespace {

using testing::DeviceBuffer;

std::vector<uint16_t> AllWords() {
  std::vector<uint16_t> words(65536);
  for (uint32_t i = 0; i < 65536; ++i) words[i] = static_cast<uint16_t>(i);
  return words;
}

std::vector<float> NarrowingInputs(float (*widen)(uint16_t)) {
  std::vector<float> in;
  for (uint32_t w = 0; w < 65536; ++w) {
    const float f = widen(static_cast<uint16_t>(w));
    in.push_back(f);
    const uint16_t next_word = static_cast<uint16_t>(w + 1);
    const float next = widen(next_word);
    if (std::isfinite(f) && std::isfinite(next) && (w & 0x7FFFu) != 0x7FFFu) {
      const float tie = static_cast<float>((static_cast<double>(f) + next) / 2);  // exact
      in.push_back(tie);
      in.push_back(std::nextafter(tie, -INFINITY));
      in.push_back(std::nextafter(tie, INFINITY));
    }
  }
  const uint32_t specials[] = {0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF812345u, 0x7FFFFFFFu,
                               0x7F800000u, 0xFF800000u, 0x00000001u, 0x80000001u, 0x007FFFFFu,
                               0x477FEFFFu, 0x477FF000u, 0x477FF001u, 0x7F7FFFFFu, 0x7F7F8000u,
                               0x33000000u, 0x33000001u, 0xB3000000u, 0x387FC000u, 0x38800000u};
  for (uint32_t s : specials) in.push_back(std::bit_cast<float>(s));
  std::mt19937 rng(7);
  for (int i = 0; i < (1 << 20); ++i)
    in.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  return in;
}

// Offsets 0 (both sides aligned: whole packs), 1 (unaligned: element by element) and 4 (the
// 16-bit side 8- but not 16-byte aligned: still whole packs). `extra` words after the 65536 leave
// a tail after the last pack.
void CheckWiden(DataType from, float (*host)(uint16_t), size_t offset, size_t extra = 0) {
  std::vector<uint16_t> words = AllWords();
  for (size_t i = 0; i < extra; ++i) words.push_back(static_cast<uint16_t>(0x3C01 + i));
  DeviceBuffer in(words.size() * 2, offset * 2), out(words.size() * 4, offset * 4);
  in.Upload(words);
  ASSERT_TRUE(
      DeviceCast(in.get(), from, out.get(), DataType::kFloat32, words.size(), nullptr).ok());
  const std::vector<uint32_t> got = out.Download<uint32_t>();
  for (size_t i = 0; i < words.size(); ++i) {
    ASSERT_EQ(got[i], std::bit_cast<uint32_t>(host(words[i])))
        << DataTypeName(from) << " word 0x" << std::hex << words[i] << " offset " << offset
        << " count " << words.size();
  }
}

void CheckNarrow(DataType to, float (*widen)(uint16_t), uint16_t (*host)(float), size_t offset,
                 size_t drop = 0) {
  std::vector<float> values = NarrowingInputs(widen);
  values.resize(values.size() - drop);
  DeviceBuffer in(values.size() * 4, offset * 4), out(values.size() * 2, offset * 2);
  in.Upload(values);
  ASSERT_TRUE(DeviceCast(in.get(), DataType::kFloat32, out.get(), to, values.size(), nullptr).ok());
  const std::vector<uint16_t> got = out.Download<uint16_t>();
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(got[i], host(values[i]))
        << DataTypeName(to) << " from float 0x" << std::hex << std::bit_cast<uint32_t>(values[i])
        << " offset " << offset;
  }
}

TEST(DeviceCastTest, WideningEveryWordMatchesHalfH) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  for (size_t offset : {0, 1, 4}) {
    for (size_t extra : {0, 3}) {
      CheckWiden(DataType::kFloat16, HalfToFloat, offset, extra);
      CheckWiden(DataType::kBFloat16, BFloat16ToFloat, offset, extra);
    }
  }
}

TEST(DeviceCastTest, NarrowingTiesSpecialsAndRandomBitsMatchHalfH) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  for (size_t offset : {0, 1, 4}) {
    for (size_t drop : {0, 1, 2, 3}) {
      CheckNarrow(DataType::kFloat16, HalfToFloat, FloatToHalf, offset, drop);
      CheckNarrow(DataType::kBFloat16, BFloat16ToFloat, FloatToBFloat16, offset, drop);
    }
  }
}

TEST(DeviceCastTest, NaNAndInfinitySurviveARoundTrip) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  const std::vector<float> values = {INFINITY, -INFINITY, NAN, -NAN, 1e30f, -1e30f};
  DeviceBuffer f(values.size() * 4), h(values.size() * 2), back(values.size() * 4);
  f.Upload(values);
  for (DataType narrow : {DataType::kFloat16, DataType::kBFloat16}) {
    ASSERT_TRUE(
        DeviceCast(f.get(), DataType::kFloat32, h.get(), narrow, values.size(), nullptr).ok());
    ASSERT_TRUE(
        DeviceCast(h.get(), narrow, back.get(), DataType::kFloat32, values.size(), nullptr).ok());
    const std::vector<float> got = back.Download<float>();
    EXPECT_EQ(got[0], INFINITY);
    EXPECT_EQ(got[1], -INFINITY);
    EXPECT_TRUE(std::isnan(got[2]));
    EXPECT_TRUE(std::isnan(got[3]));
    EXPECT_TRUE(std::signbit(got[3])) << "the sign of a NaN is kept";
    if (narrow == DataType::kFloat16) {
      EXPECT_EQ(got[4], INFINITY) << "fp16 overflow rounds to infinity";
      EXPECT_EQ(got[5], -INFINITY);
    } else {
      EXPECT_NEAR(got[4], 1e30f, 1e28f) << "bf16 has float32's range";
    }
  }
}

TEST(DeviceCastTest, UnsupportedPairsAreInvalidArgument) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  DeviceBuffer a(64), b(64);
  EXPECT_EQ(
      DeviceCast(a.get(), DataType::kFloat16, b.get(), DataType::kBFloat16, 8, nullptr).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeviceCast(a.get(), DataType::kInt32, b.get(), DataType::kFloat32, 8, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeviceCast(nullptr, DataType::kFloat32, b.get(), DataType::kFloat16, 8, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      DeviceCast(a.get(), DataType::kFloat32, b.get(), DataType::kFloat32, 16, nullptr).ok());
}

}  // namespace
}  // namespace crosslink::collectives::cuda
