// DeviceReduce and DeviceFinalize against the host reductions of reduce.h, bit for bit, for every
// type and op, aligned (vectorised) and misaligned (scalar) buffers, counts that leave a tail, and
// operands that include NaNs of both signs, infinities of both signs, signed zeros and subnormals.
#include "crosslink/collectives/cuda/device_reduce.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../collective_test_util.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/half.h"
#include "crosslink/collectives/reduce.h"
#include "cuda_test_util.h"
#include "gtest/gtest.h"

namespace crosslink::collectives::cuda {
namespace {

using collectives::testing::Bytes;
using testing::DeviceBuffer;

// Overwrites every 7th element of a float buffer with a special value, cycling through them, so
// that every pairing (NaN + finite, inf + -inf, -0 + 0, subnormal + subnormal) occurs somewhere.
void SprinkleSpecials(DataType type, Bytes& buffer, size_t count, int phase) {
  const float specials32[] = {std::numeric_limits<float>::quiet_NaN(),
                              -std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              -0.0f,
                              0.0f,
                              std::numeric_limits<float>::denorm_min() * 3,
                              -std::numeric_limits<float>::min() / 4,
                              std::numeric_limits<float>::max()};
  const size_t es = DataTypeSize(type);
  for (size_t i = phase; i < count; i += 7) {
    const float f = specials32[(i / 7 + phase) % std::size(specials32)];
    std::byte* e = buffer.data() + i * es;
    switch (type) {
      case DataType::kFloat32:
        std::memcpy(e, &f, 4);
        break;
      case DataType::kFloat64: {
        const double d = f;
        std::memcpy(e, &d, 8);
        break;
      }
      case DataType::kFloat16: {
        const uint16_t h = FloatToHalf(f == std::numeric_limits<float>::max() ? 65504.0f : f);
        std::memcpy(e, &h, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t b = FloatToBFloat16(f);
        std::memcpy(e, &b, 2);
        break;
      }
      default:
        break;
    }
  }
}

bool IsFloat(DataType type) { return type != DataType::kInt32 && type != DataType::kInt64; }

void CheckReduce(DataType type, ReduceOp op, size_t count, size_t offset_elements, uint64_t seed) {
  const size_t es = DataTypeSize(type);
  Bytes a = collectives::testing::RandomBuffer(type, count, seed);
  Bytes b = collectives::testing::RandomBuffer(type, count, seed + 1000);
  if (IsFloat(type)) {
    SprinkleSpecials(type, a, count, 0);
    SprinkleSpecials(type, b, count, 3);
  }
  DeviceBuffer d_a(count * es, offset_elements * es), d_b(count * es, offset_elements * es);
  d_a.Upload(a.data());
  d_b.Upload(b.data());
  Bytes expected = a;
  GetReduceFn(type, op)(expected.data(), b.data(), count);
  const std::string what = absl::StrFormat("%s %s count=%u offset=%u", DataTypeName(type),
                                           ReduceOpName(op), count, offset_elements);
  ASSERT_TRUE(DeviceReduce(d_a.get(), d_b.get(), count, type, op, nullptr).ok()) << what;
  ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize()) << what;
  Bytes got(count * es);
  ASSERT_EQ(cudaSuccess, cudaMemcpy(got.data(), d_a.get(), got.size(), cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(0, std::memcmp(got.data() + i * es, expected.data() + i * es, es))
        << what << ": element " << i << " differs from the host reduction";
  }
}

TEST(DeviceReduceTest, EveryTypeAndOpMatchesHostReductionBitForBit) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  uint64_t seed = 1;
  for (DataType type : collectives::testing::kAllTypes) {
    for (ReduceOp op : collectives::testing::kAllOps) {
      // 1 and 7: tail only; 4099: packs plus a tail; 1 << 20: many grid-stride rounds.
      for (size_t count : {size_t{1}, size_t{7}, size_t{4099}, size_t{1} << 20}) {
        for (size_t offset : {size_t{0}, size_t{1}}) {
          CheckReduce(type, op, count, offset, ++seed);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(DeviceReduceTest, FinalizeAvgMatchesHostDivisionBitForBit) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  for (DataType type : collectives::testing::kAllTypes) {
    for (int world_size : {1, 3, 7}) {
      for (size_t offset : {size_t{0}, size_t{1}}) {
        const size_t count = 10007, es = DataTypeSize(type);
        Bytes data = collectives::testing::RandomBuffer(type, count, 77 + world_size);
        if (IsFloat(type)) SprinkleSpecials(type, data, count, 1);
        DeviceBuffer d(count * es, offset * es);
        d.Upload(data.data());
        ASSERT_TRUE(DeviceFinalize(d.get(), count, type, ReduceOp::kAvg, world_size, nullptr).ok());
        ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
        Bytes got(count * es);
        ASSERT_EQ(cudaSuccess, cudaMemcpy(got.data(), d.get(), got.size(), cudaMemcpyDeviceToHost));
        GetFinalizeFn(type, ReduceOp::kAvg)(data.data(), count, world_size);
        ASSERT_EQ(0, std::memcmp(got.data(), data.data(), got.size()))
            << DataTypeName(type) << " world size " << world_size << " offset " << offset;
      }
    }
  }
}

// The finalisation divides by the world size with a reciprocal and two FMAs where that is exact
// (device_arith.cuh) and IEEE division elsewhere: every fp16 and bf16 word, and random float32 and
// float64 bit patterns (every exponent: zeros, subnormals, the fast range's edges, infinities,
// NaNs), against the host's division, for world sizes with and without an exact reciprocal and
// one beyond the fast path's 2^24, aligned and not, with counts that leave a tail after the
// last 16-byte pack and after the last unrolled round.
void CheckFinalize(DataType type, const Bytes& data, int world_size, size_t offset) {
  const size_t es = DataTypeSize(type), count = data.size() / es;
  DeviceBuffer d(data.size(), offset * es);
  d.Upload(data.data());
  ASSERT_TRUE(DeviceFinalize(d.get(), count, type, ReduceOp::kAvg, world_size, nullptr).ok());
  ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
  Bytes got(data.size());
  ASSERT_EQ(cudaSuccess, cudaMemcpy(got.data(), d.get(), got.size(), cudaMemcpyDeviceToHost));
  Bytes expected = data;
  GetFinalizeFn(type, ReduceOp::kAvg)(expected.data(), count, world_size);
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(0, std::memcmp(got.data() + i * es, expected.data() + i * es, es))
        << DataTypeName(type) << " world size " << world_size << " offset " << offset << " element "
        << i << " of " << count;
  }
}

constexpr int kWorldSizes[] = {1, 2, 3, 5, 6, 7, 8, 12, 13, 100, 1023, (1 << 24) + 2};

TEST(DeviceReduceTest, FinalizeAvgEvery16BitWordMatchesHostDivision) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  // Every word, then 5 more so that the last pack is partial.
  Bytes words((65536 + 5) * 2);
  for (uint32_t i = 0; i < 65536 + 5; ++i) {
    const uint16_t w = static_cast<uint16_t>(i);
    std::memcpy(words.data() + 2 * i, &w, 2);
  }
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
    for (int world_size : kWorldSizes) {
      for (size_t offset : {size_t{0}, size_t{1}}) {
        CheckFinalize(type, words, world_size, offset);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(DeviceReduceTest, FinalizeAvgRandomBitsMatchHostDivision) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  std::mt19937_64 rng(11);
  for (DataType type : {DataType::kFloat32, DataType::kFloat64}) {
    // (1 << 20) + 3 elements: many unrolled rounds, a partial round and a partial pack.
    Bytes data(((size_t{1} << 20) + 3) * DataTypeSize(type));
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      const uint64_t bits = rng();
      std::memcpy(data.data() + i, &bits, 8);
    }
    std::memcpy(data.data() + data.size() - 4, &data[0], 4);
    for (int world_size : kWorldSizes) {
      for (size_t offset : {size_t{0}, size_t{1}}) {
        CheckFinalize(type, data, world_size, offset);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(DeviceReduceTest, AvgIsSumThenOneDivisionLikeTheHost) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  // Three ranks' contributions reduced as a ring owner would: ((x1 + x2) + x0) / 3.
  const size_t count = 4096;
  std::vector<Bytes> x;
  for (int r = 0; r < 3; ++r)
    x.push_back(collectives::testing::RandomBuffer(DataType::kBFloat16, count, 500 + r));
  DeviceBuffer acc(count * 2), other(count * 2);
  acc.Upload(x[1].data());
  for (int r : {2, 0}) {
    other.Upload(x[r].data());
    ASSERT_TRUE(
        DeviceReduce(acc.get(), other.get(), count, DataType::kBFloat16, ReduceOp::kAvg, nullptr)
            .ok());
  }
  ASSERT_TRUE(
      DeviceFinalize(acc.get(), count, DataType::kBFloat16, ReduceOp::kAvg, 3, nullptr).ok());
  const std::vector<uint16_t> got = acc.Download<uint16_t>();
  const Bytes expected =
      collectives::testing::RingReference(x, DataType::kBFloat16, ReduceOp::kAvg, count);
  // Ring block 0 (the first BlockRange) is reduced in exactly that order: x1, x2, x0.
  const Range block = BlockRange(count, 3, 0);
  ASSERT_EQ(0, std::memcmp(got.data() + block.offset, expected.data() + block.offset * 2,
                           block.count * 2));
}

TEST(DeviceReduceTest, ArgumentErrorsAreInvalidArgumentAndEmptyIsANoOp) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  DeviceBuffer d(64);
  EXPECT_EQ(DeviceReduce(d.get(), nullptr, 4, DataType::kFloat32, ReduceOp::kSum, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      DeviceReduce(d.get(), d.get(), 4, static_cast<DataType>(42), ReduceOp::kSum, nullptr).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeviceFinalize(d.get(), 4, DataType::kFloat32, ReduceOp::kAvg, 0, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DeviceReduce(nullptr, nullptr, 0, DataType::kFloat32, ReduceOp::kMax, nullptr).ok());
  EXPECT_TRUE(DeviceFinalize(d.get(), 4, DataType::kFloat32, ReduceOp::kSum, 2, nullptr).ok());
}

}  // namespace
}  // namespace crosslink::collectives::cuda
