// Every host kernel set this CPU runs (baseline, AVX2, AVX-512) against plain scalar loops over
// half.h, written here as the kernels were before they were vectorised: bit for bit, on random
// bits that include NaNs with payloads, infinities, signed zeros and subnormals, and on lengths
// that leave every kind of tail (0..70, and around the int8 block size), with and without error
// feedback. A set the CPU lacks is reported as skipped.
#include "crosslink/collectives/host_kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/half.h"
#include "gtest/gtest.h"
#include "host_kernels_reference.h"
#include "per_host_isa_test.h"

namespace crosslink::collectives {
namespace {

// --- the scalar reference (host_kernels_reference.h has the reductions) -----------------------

void RefQuantize(const float* x, size_t count, float* error_feedback, int8_t* q, float* scales) {
  float v[kInt8BlockSize];
  for (size_t begin = 0, b = 0; begin < count; begin += kInt8BlockSize, ++b) {
    const size_t n = std::min(kInt8BlockSize, count - begin);
    for (size_t i = 0; i < n; ++i) {
      v[i] = error_feedback != nullptr ? RefAdd(x[begin + i], error_feedback[begin + i])
                                       : x[begin + i];
    }
    float amax = 0.0f;
    for (size_t i = 0; i < n; ++i) {
      const float a = std::fabs(v[i]);
      amax = (a > amax || a != a) ? a : amax;
    }
    if (!(amax <= std::numeric_limits<float>::max())) {
      scales[b] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 0; i < n; ++i) {
        q[begin + i] = 0;
        if (error_feedback != nullptr) error_feedback[begin + i] = 0.0f;
      }
      continue;
    }
    const float scale = amax / 127.0f;
    scales[b] = scale;
    for (size_t i = 0; i < n; ++i) {
      float r = 0.0f;
      if (scale > 0.0f) {
        r = std::rint(v[i] / scale);
        r = std::min(std::max(r, -127.0f), 127.0f);
      }
      q[begin + i] = static_cast<int8_t>(static_cast<int>(r));
      if (error_feedback != nullptr) {
        volatile float d = r * scale;  // separately rounded, as the codec computes it
        error_feedback[begin + i] = v[i] - d;
      }
    }
  }
}

// --- inputs -------------------------------------------------------------------------------------

uint64_t Special64(std::mt19937_64& rng) {
  static const uint64_t kSpecials[] = {
      0x7FF8000000000000ull, 0xFFF8000000000001ull, 0x7FF0000000000001ull,   // NaNs
      0x7FF0000000000000ull, 0xFFF0000000000000ull,                          // infinities
      0x0000000000000000ull, 0x8000000000000000ull,                          // zeros
      0x0000000000000001ull, 0x800FFFFFFFFFFFFFull, 0x7FEFFFFFFFFFFFFFull};  // edges
  return kSpecials[rng() % std::size(kSpecials)];
}
uint32_t Special32(std::mt19937_64& rng) {
  static const uint32_t kSpecials[] = {
      0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0x7FA00000u,   // NaNs (quiet, signalling)
      0x7F800000u, 0xFF800000u, 0x00000000u, 0x80000000u,   // infinities, zeros
      0x00000001u, 0x807FFFFFu, 0x7F7FFFFFu, 0x00800000u,   // subnormals, edges
      0x477FF000u, 0x477FEFFFu, 0x3F800000u, 0xBF800000u};  // fp16 overflow edge, +-1
  return kSpecials[rng() % std::size(kSpecials)];
}
uint16_t Special16(std::mt19937_64& rng) {
  static const uint16_t kSpecials[] = {0x7E00, 0xFE01, 0x7C01, 0x7D00, 0x7C00, 0xFC00,
                                       0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x7F80,
                                       0xFF80, 0x7FC1, 0x0080, 0x3C00};
  return kSpecials[rng() % std::size(kSpecials)];
}

// Random bits of `type`, one element in eight replaced by a special value; floats are drawn as
// mostly "reasonable" magnitudes so that sums and divisions exercise rounding rather than only
// NaN propagation.
std::vector<std::byte> RandomElements(DataType type, size_t n, std::mt19937_64& rng) {
  const size_t es = DataTypeSize(type);
  std::vector<std::byte> out(n * es);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> exponent(-30, 30);
  for (size_t i = 0; i < n; ++i) {
    const bool special = rng() % 8 == 0;
    const double value = std::ldexp(normal(rng), exponent(rng));
    std::byte* e = out.data() + i * es;
    switch (type) {
      case DataType::kFloat32: {
        const uint32_t bits = special ? Special32(rng) : std::bit_cast<uint32_t>(float(value));
        std::memcpy(e, &bits, 4);
        break;
      }
      case DataType::kFloat64: {
        const uint64_t bits = special ? Special64(rng) : std::bit_cast<uint64_t>(value);
        std::memcpy(e, &bits, 8);
        break;
      }
      case DataType::kFloat16: {
        const uint16_t bits = special ? Special16(rng) : FloatToHalf(float(value / 1e4));
        std::memcpy(e, &bits, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t bits = special ? Special16(rng) : FloatToBFloat16(float(value));
        std::memcpy(e, &bits, 2);
        break;
      }
      case DataType::kInt32: {
        const uint32_t bits = static_cast<uint32_t>(rng());
        std::memcpy(e, &bits, 4);
        break;
      }
      case DataType::kInt64: {
        const uint64_t bits = rng();
        std::memcpy(e, &bits, 8);
        break;
      }
    }
  }
  return out;
}

std::vector<size_t> Lengths() {
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 70; ++n) lengths.push_back(n);
  for (size_t n : {255, 256, 257, 511, 513, 1000, 4097, 65536 + 37}) lengths.push_back(n);
  return lengths;
}

// memcmp and memcpy of the n = 0 case: an empty vector's data() may be null, which neither may be
// given even for zero bytes (UBSan's nonnull check).
bool SameBytes(const void* a, const void* b, size_t bytes) {
  return bytes == 0 || std::memcmp(a, b, bytes) == 0;
}
void CopyBytes(void* to, const void* from, size_t bytes) {
  if (bytes > 0) std::memcpy(to, from, bytes);
}

class HostKernelsTest : public PerHostIsaTest {};

constexpr DataType kTypes[] = {DataType::kFloat32,  DataType::kFloat64, DataType::kFloat16,
                               DataType::kBFloat16, DataType::kInt32,   DataType::kInt64};
constexpr ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax};

TEST_P(HostKernelsTest, ReductionsMatchScalarLoopsBitForBit) {
  std::mt19937_64 rng(1);
  for (DataType type : kTypes) {
    const size_t es = DataTypeSize(type);
    for (ReduceOp op : kOps) {
      for (size_t n : Lengths()) {
        // One element of slack in front: the kernels must not assume aligned buffers.
        std::vector<std::byte> a = RandomElements(type, n + 1, rng);
        const std::vector<std::byte> b = RandomElements(type, n + 1, rng);
        std::vector<std::byte> expected = a;
        RefReduceAny(type, op, expected.data() + es, b.data() + es, n);
        kernels().reduce[static_cast<int>(type)][static_cast<int>(op)](a.data() + es, b.data() + es,
                                                                       n);
        ASSERT_EQ(0, std::memcmp(a.data(), expected.data(), a.size()))
            << HostIsaName(GetParam()) << " " << DataTypeName(type) << " " << ReduceOpName(op)
            << " n=" << n;
      }
    }
  }
}

TEST_P(HostKernelsTest, FinalizeAvgMatchesScalarDivisionBitForBit) {
  std::mt19937_64 rng(2);
  for (DataType type : kTypes) {
    const size_t es = DataTypeSize(type);
    for (int world_size : {1, 2, 3, 5, 6, 7, 12, 1000, 65537, (1 << 24) - 1, 2147483647}) {
      for (size_t n : Lengths()) {
        std::vector<std::byte> data = RandomElements(type, n + 1, rng);
        std::vector<std::byte> expected = data;
        RefFinalize(type, expected.data() + es, n, world_size);
        kernels().finalize_avg[static_cast<int>(type)](data.data() + es, n, world_size);
        ASSERT_EQ(0, std::memcmp(data.data(), expected.data(), data.size()))
            << HostIsaName(GetParam()) << " " << DataTypeName(type) << " world " << world_size
            << " n=" << n;
      }
    }
  }
}

// The world sizes of the kAvg division tests: every size up to 100, and sizes that stress
// Markstein's correction (2^24 - 1: an all-ones significand; 19680, 65535) or skip it (2^24 + 1).
std::vector<int> DivisionWorldSizes() {
  std::vector<int> sizes;
  for (int n = 1; n <= 100; ++n) sizes.push_back(n);
  for (int n : {255, 1000, 19680, 65535, 1000003, (1 << 24) - 1, (1 << 24) + 1}) {
    sizes.push_back(n);
  }
  return sizes;
}

// The integer kAvg tests' world sizes: the same, and up to the largest int.
std::vector<int> IntegerDivisionWorldSizes() {
  std::vector<int> sizes = DivisionWorldSizes();
  for (int n : {1 << 30, (1 << 30) + 1, std::numeric_limits<int32_t>::max() - 1,
                std::numeric_limits<int32_t>::max()}) {
    sizes.push_back(n);
  }
  return sizes;
}

// Each special value with either sign, filling a vector of `lanes` and alone among ordinary ones.
template <typename T>
void AppendSpecials(std::vector<T>& out, std::initializer_list<T> specials, int lanes) {
  for (T special : specials) {
    for (T sign : {T{1}, T{-1}}) {
      out.insert(out.end(), lanes, std::copysign(special, sign));
      for (int k = 0; k < lanes; ++k) out.push_back(k == 3 ? std::copysign(special, sign) : T{1.5});
    }
  }
}

// finalize_avg of `input` by `world_size` has the scalar division's bits.
template <typename T, typename Bits>
::testing::AssertionResult AvgEqualsDivision(const HostKernels& kernels, HostIsa isa, DataType type,
                                             const std::vector<T>& input, int world_size) {
  std::vector<T> data = input;
  std::vector<T> expected = input;
  RefFinalize(type, reinterpret_cast<std::byte*>(expected.data()), expected.size(), world_size);
  kernels.finalize_avg[static_cast<int>(type)](data.data(), data.size(), world_size);
  for (size_t i = 0; i < data.size(); ++i) {
    if (std::bit_cast<Bits>(data[i]) != std::bit_cast<Bits>(expected[i])) {
      return ::testing::AssertionFailure()
             << HostIsaName(isa) << " " << DataTypeName(type) << " world " << world_size
             << " dividend 0x" << std::hex << std::bit_cast<Bits>(input[i]) << ": 0x"
             << std::bit_cast<Bits>(data[i]) << " instead of 0x"
             << std::bit_cast<Bits>(expected[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

// finalize_avg of integer `input` by `world_size` is C++'s truncating division.
template <typename T>
::testing::AssertionResult AvgTruncates(const HostKernels& kernels, HostIsa isa, DataType type,
                                        const std::vector<T>& input, int world_size) {
  std::vector<T> data = input;
  kernels.finalize_avg[static_cast<int>(type)](data.data(), data.size(), world_size);
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != input[i] / world_size) {
      return ::testing::AssertionFailure()
             << HostIsaName(isa) << " " << DataTypeName(type) << " world " << world_size
             << " dividend " << input[i] << ": " << data[i] << " instead of "
             << input[i] / world_size;
    }
  }
  return ::testing::AssertionSuccess();
}

// float32 kAvg by a world size that is not a power of two runs Markstein's correction instead of
// a divide on the vector sets; it must be the division's bits for every dividend and world size.
// Every 8209th float32 bit pattern (about half a million: every exponent, both signs, NaNs,
// infinities, subnormals), both zeros (a zero dividend skips the divide: -0 must stay -0), the
// underflow guard's edges, and dividends next to a tie of the quotient.
TEST_P(HostKernelsTest, Float32AvgEqualsDivisionOnSampledBitPatternsAndWorldSizes) {
  std::vector<float> patterns;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 8209) {
    patterns.push_back(std::bit_cast<float>(static_cast<uint32_t>(u)));
  }
  AppendSpecials<float>(
      patterns,
      {0.0f, 0x1p-149f, 0x1p-126f, 0x1p-125f, 0x1.000002p-125f, 0x1.fffffep-126f, 0x1p-100f,
       std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
       std::bit_cast<float>(uint32_t{0x7FC00001}), std::bit_cast<float>(uint32_t{0x7F800001})},
      16);
  std::vector<float> near_ties;
  std::mt19937_64 rng(5);
  for (int world_size : DivisionWorldSizes()) {
    // a = n * m for a midpoint m between adjacent floats, rounded to float: quotients next to a
    // tie, where a wrong correction shows first.
    near_ties.clear();
    for (int k = 0; k < 4096; ++k) {
      const double m = std::ldexp(static_cast<double>((rng() >> 39) | (1u << 24) | 1u),
                                  static_cast<int>(rng() % 200) - 150);
      near_ties.push_back(static_cast<float>(m * world_size));
    }
    for (const std::vector<float>* input : {&patterns, &near_ties}) {
      ASSERT_TRUE((AvgEqualsDivision<float, uint32_t>(kernels(), GetParam(), DataType::kFloat32,
                                                      *input, world_size)));
    }
  }
}

// float64 kAvg: the same correction in float64 lanes; random bit patterns (every exponent and
// class) and the specials around the underflow guard, by the same world sizes.
TEST_P(HostKernelsTest, Float64AvgEqualsDivisionOnRandomBitPatternsAndWorldSizes) {
  std::mt19937_64 rng(6);
  std::vector<double> patterns(1 << 18);
  for (double& d : patterns) d = std::bit_cast<double>(rng());
  AppendSpecials<double>(
      patterns,
      {0.0, 0x1p-1074, 0x1p-1022, 0x1p-1021, 0x1.0000000000001p-1021, 0x1.fffffffffffffp-1022,
       0x1p-900, std::numeric_limits<double>::max(), std::numeric_limits<double>::infinity(),
       std::bit_cast<double>(uint64_t{0x7FF8000000000001}),
       std::bit_cast<double>(uint64_t{0x7FF0000000000001})},
      8);
  for (int world_size : DivisionWorldSizes()) {
    ASSERT_TRUE((AvgEqualsDivision<double, uint64_t>(kernels(), GetParam(), DataType::kFloat64,
                                                     patterns, world_size)));
  }
}

// int32 kAvg: the float64 quotient by Markstein's correction on the FMA sets, truncated; it must
// be C++'s truncating division for every dividend and world size.
TEST_P(HostKernelsTest, Int32AvgEqualsTruncatingDivisionOnSampledValuesAndWorldSizes) {
  std::vector<int32_t> values;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 16411) {
    values.push_back(static_cast<int32_t>(static_cast<uint32_t>(u)));
  }
  for (int32_t special :
       {0, 1, -1, 2, -2, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(),
        std::numeric_limits<int32_t>::max() - 1, std::numeric_limits<int32_t>::min() + 1}) {
    values.push_back(special);
  }
  for (int world_size : IntegerDivisionWorldSizes()) {
    // Dividends next to multiples of n, where truncation turns.
    std::vector<int32_t> data = values;
    for (int64_t m : {int64_t{1}, int64_t{7}, int64_t{1} << 20, (int64_t{1} << 31) / world_size}) {
      for (int64_t d = -1; d <= 1; ++d) {
        for (int64_t sign : {1, -1}) {
          const int64_t v = sign * (m * world_size + d);
          if (v >= std::numeric_limits<int32_t>::min() &&
              v <= std::numeric_limits<int32_t>::max()) {
            data.push_back(static_cast<int32_t>(v));
          }
        }
      }
    }
    ASSERT_TRUE(AvgTruncates(kernels(), GetParam(), DataType::kInt32, data, world_size));
  }
}

// int64 kAvg: on the wide sets vectors of dividends in [-2^51, 2^51) by Markstein's float64
// division, truncated, and other vectors (AVX-512) by a float64 estimate corrected twice in integer
// arithmetic; it must be C++'s truncating division for every dividend (the whole range: the
// estimate is furthest off near +-2^63) and world size. The values come in runs of 64 small ones
// (so that whole vectors take the fast path), then mixed ones.
TEST_P(HostKernelsTest, Int64AvgEqualsTruncatingDivisionOnRandomValuesAndWorldSizes) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> values;
  constexpr int64_t kSmall = int64_t{1} << 51;  // the fast path's bound
  for (int k = 0; k < (1 << 16); ++k) {
    const int64_t v = static_cast<int64_t>(rng());
    values.push_back(v);
    values.push_back(v >> (rng() % 63));  // every magnitude
    if (k % 64 == 0) {
      for (int j = 0; j < 64; ++j) {
        const int64_t small = static_cast<int64_t>(rng() >> (13 + rng() % 51));  // < 2^51
        values.push_back(j % 2 == 0 ? small : -small);
      }
    }
  }
  // The fast path's edges, each filling a vector and alone among small values.
  for (int64_t edge : {kSmall - 1, -kSmall, kSmall, -kSmall - 1, 2 * kSmall - 1, 2 * kSmall}) {
    values.insert(values.end(), 8, edge);
    for (int j = 0; j < 8; ++j) values.push_back(j == 5 ? edge : 12345);
  }
  for (int64_t special :
       {int64_t{0}, int64_t{1}, int64_t{-1}, std::numeric_limits<int64_t>::max(),
        std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max() - 1,
        std::numeric_limits<int64_t>::min() + 1, int64_t{1} << 53, (int64_t{1} << 53) + 1,
        -(int64_t{1} << 53) - 1}) {
    values.push_back(special);
  }
  for (int world_size : IntegerDivisionWorldSizes()) {
    // Dividends next to multiples of n, where truncation turns, up to the ends of the range.
    std::vector<int64_t> data = values;
    const int64_t top = std::numeric_limits<int64_t>::max() / world_size;
    const int64_t small_top = (kSmall - 1) / world_size;  // m * n + 1 still below 2^51
    for (int64_t m :
         {int64_t{1}, int64_t{7}, int64_t{1} << 40, small_top - 1, small_top, top - 1, top}) {
      if (m > top) continue;  // m * n would overflow
      for (int64_t d : {int64_t{-1}, int64_t{0}, int64_t{1}}) {
        const int64_t base = m * world_size;  // m <= top: no overflow
        if (d <= 0 || base <= std::numeric_limits<int64_t>::max() - d) {
          data.push_back(base + d);
          data.push_back(-(base + d));
        }
      }
    }
    ASSERT_TRUE(AvgTruncates(kernels(), GetParam(), DataType::kInt64, data, world_size));
  }
}

TEST_P(HostKernelsTest, Int8CodecMatchesScalarCodecOverRepeatedSteps) {
  std::mt19937_64 rng(3);
  for (size_t n : Lengths()) {
    for (bool feedback : {false, true}) {
      std::vector<float> e(n, 0.0f), ref_e(n, 0.0f);
      for (int step = 0; step < 3; ++step) {
        std::vector<float> x(n);
        // Per-block magnitudes over eight decades; specials in some blocks only.
        const std::vector<std::byte> bits = RandomElements(DataType::kFloat32, n, rng);
        CopyBytes(x.data(), bits.data(), n * 4);
        for (size_t i = 0; i < n; ++i) {
          if ((i / kInt8BlockSize + step) % 3 != 0 && !std::isfinite(x[i])) x[i] = 0.5f;
        }
        const size_t blocks = Int8NumBlocks(n);
        std::vector<int8_t> q(n), ref_q(n);
        std::vector<float> scales(blocks), ref_scales(blocks), out(n), ref_out(n);
        RefQuantize(x.data(), n, feedback ? ref_e.data() : nullptr, ref_q.data(),
                    ref_scales.data());
        kernels().int8_quantize(x.data(), n, feedback ? e.data() : nullptr, q.data(),
                                scales.data());
        const std::string what = std::string(HostIsaName(GetParam())) + " n=" + std::to_string(n) +
                                 " step " + std::to_string(step) +
                                 (feedback ? " with feedback" : "");
        ASSERT_TRUE(SameBytes(q.data(), ref_q.data(), n)) << what << ": q";
        ASSERT_TRUE(SameBytes(scales.data(), ref_scales.data(), blocks * 4)) << what << ": scales";
        ASSERT_TRUE(SameBytes(e.data(), ref_e.data(), n * 4)) << what << ": residuals";
        for (size_t i = 0; i < n; ++i) {
          ref_out[i] = static_cast<float>(ref_q[i]) * ref_scales[i / kInt8BlockSize];
        }
        kernels().int8_dequantize(q.data(), scales.data(), n, out.data());
        ASSERT_TRUE(SameBytes(out.data(), ref_out.data(), n * 4)) << what << ": dequantised";
      }
    }
  }
}

TEST_P(HostKernelsTest, BFloat16CodecMatchesScalarLoops) {
  std::mt19937_64 rng(4);
  for (size_t n : Lengths()) {
    const std::vector<std::byte> bits = RandomElements(DataType::kFloat32, n, rng);
    std::vector<float> x(n);
    CopyBytes(x.data(), bits.data(), n * 4);
    std::vector<uint16_t> w(n), ref_w(n);
    std::vector<float> e(n), ref_e(n), out(n), ref_out(n);
    RefBFloat16Encode(x.data(), n, nullptr, ref_w.data());
    kernels().bf16_encode(x.data(), n, nullptr, w.data());
    ASSERT_TRUE(SameBytes(w.data(), ref_w.data(), n * 2)) << HostIsaName(GetParam()) << n;
    // With feedback: e starts as small random values (and a few specials) in both copies.
    const std::vector<std::byte> e_bits = RandomElements(DataType::kFloat32, n, rng);
    CopyBytes(e.data(), e_bits.data(), n * 4);
    ref_e = e;
    RefBFloat16Encode(x.data(), n, ref_e.data(), ref_w.data());
    kernels().bf16_encode(x.data(), n, e.data(), w.data());
    ASSERT_TRUE(SameBytes(w.data(), ref_w.data(), n * 2)) << HostIsaName(GetParam()) << n;
    ASSERT_TRUE(SameBytes(e.data(), ref_e.data(), n * 4)) << HostIsaName(GetParam()) << n;
    for (size_t i = 0; i < n; ++i) ref_out[i] = BFloat16ToFloat(ref_w[i]);
    kernels().bf16_decode(w.data(), n, out.data());
    ASSERT_TRUE(SameBytes(out.data(), ref_out.data(), n * 4)) << HostIsaName(GetParam()) << n;
  }
}

TEST(HostKernelsChoiceTest, TheActiveSetIsSupportedAndTheBaselineAlwaysIs) {
  EXPECT_TRUE(HostIsaSupported(HostIsa::kBaseline));
  EXPECT_TRUE(HostIsaSupported(ActiveHostIsa())) << HostIsaName(ActiveHostIsa());
  EXPECT_EQ(&ActiveHostKernels(), &HostKernelsFor(ActiveHostIsa()));
  // The widest supported set is chosen unless CROSSLINK_HOST_ISA caps it.
  if (std::getenv("CROSSLINK_HOST_ISA") == nullptr) {
    for (HostIsa isa : kAllHostIsas) {
      if (HostIsaSupported(isa)) EXPECT_GE(ActiveHostIsa(), isa);
    }
  }
}

TEST(HostKernelsChoiceTest, CrosslinkHostIsaNamesEverySetAndCapsAtTheWidestSupportedOneBelow) {
  for (HostIsa isa : kAllHostIsas) {
    HostIsa parsed = HostIsa::kBaseline;
    ASSERT_TRUE(ParseHostIsa(HostIsaName(isa), &parsed)) << HostIsaName(isa);
    EXPECT_EQ(parsed, isa);
    // The cap never picks a set the CPU lacks, nor one above the cap, and takes the cap itself
    // where the CPU has it.
    const HostIsa capped = WidestSupportedHostIsa(isa);
    EXPECT_TRUE(HostIsaSupported(capped)) << HostIsaName(isa);
    EXPECT_LE(capped, isa);
    if (HostIsaSupported(isa)) EXPECT_EQ(capped, isa);
  }
  HostIsa unchanged = HostIsa::kAvx2;
  EXPECT_FALSE(ParseHostIsa("avx1024", &unchanged));
  EXPECT_FALSE(ParseHostIsa("", &unchanged));
  EXPECT_EQ(unchanged, HostIsa::kAvx2);
  // Each extension level needs AVX-512 under it.
  for (HostIsa isa : {HostIsa::kAvx512Bf16, HostIsa::kAvx512Fp16}) {
    if (HostIsaSupported(isa)) EXPECT_TRUE(HostIsaSupported(HostIsa::kAvx512)) << HostIsaName(isa);
  }
}

TEST(HostKernelsChoiceTest, Avx512Fp16RunsItsOwnFp16KernelsAndTheBestBf16Ones) {
  if (!HostIsaSupported(HostIsa::kAvx512Fp16)) GTEST_SKIP() << "this CPU has no AVX512_FP16";
  const HostKernels& fp16 = HostKernelsFor(HostIsa::kAvx512Fp16);
  const HostKernels& bf16 = HostKernelsFor(
      HostIsaSupported(HostIsa::kAvx512Bf16) ? HostIsa::kAvx512Bf16 : HostIsa::kAvx512);
  const HostKernels& avx512 = HostKernelsFor(HostIsa::kAvx512);
  constexpr int kHalf = static_cast<int>(DataType::kFloat16);
  constexpr int kBf16 = static_cast<int>(DataType::kBFloat16);
  for (ReduceOp op : kOps) {
    const int o = static_cast<int>(op);
    EXPECT_EQ(fp16.reduce[kBf16][o], bf16.reduce[kBf16][o]) << ReduceOpName(op);
    EXPECT_NE(fp16.reduce[kHalf][o], avx512.reduce[kHalf][o]) << ReduceOpName(op);
  }
  EXPECT_EQ(fp16.finalize_avg[kBf16], bf16.finalize_avg[kBf16]);
  EXPECT_NE(fp16.finalize_avg[kHalf], avx512.finalize_avg[kHalf]);
  EXPECT_EQ(fp16.bf16_encode, bf16.bf16_encode);
}

INSTANTIATE_TEST_SUITE_P(AllSets, HostKernelsTest, ::testing::ValuesIn(kAllHostIsas),
                         [](const ::testing::TestParamInfo<HostIsa>& info) {
                           return std::string(HostIsaName(info.param));
                         });

}  // namespace
}  // namespace crosslink::collectives
