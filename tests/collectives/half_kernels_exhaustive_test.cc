// The fp16 and bf16 kernels of every instruction set this CPU runs, over every 16-bit word: each
// word reduced with partners of every class (itself, its negation, random words of all 65,536,
// the whole sequence reversed), kAvg finalisation of every word by world sizes that are and are
// not powers of two (hundreds of them), and the bf16 encoder on every bf16 word with each kind of
// rounding tail. Bit for bit against the scalar loops (host_kernels_reference.h), on buffers one
// element off alignment, so the vector bodies, their NaN/subnormal slow paths and the scalar tails
// all run.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "crosslink/collectives/half.h"
#include "crosslink/collectives/host_kernels.h"
#include "gtest/gtest.h"
#include "host_kernels_reference.h"
#include "per_host_isa_test.h"

namespace crosslink::collectives {
namespace {

constexpr size_t kWords = 65536;

// Every 16-bit word, `copies` times, then 37 more (a tail no vector width divides).
std::vector<uint16_t> EveryWord(size_t copies) {
  std::vector<uint16_t> words(kWords * copies + 37);
  for (size_t i = 0; i < words.size(); ++i) words[i] = static_cast<uint16_t>(i);
  return words;
}

// Partners for EveryWord(copies): copy 0 the word itself, copy 1 its negation, copy 2 the
// sequence reversed, the rest uniformly random words.
std::vector<uint16_t> Partners(size_t copies, std::mt19937_64& rng) {
  std::vector<uint16_t> in = EveryWord(copies);
  for (size_t i = 0; i < in.size(); ++i) {
    const size_t copy = i / kWords;
    if (copy == 1) in[i] ^= 0x8000;
    if (copy == 2) in[i] = static_cast<uint16_t>(kWords - 1 - i % kWords);
    if (copy >= 3) in[i] = static_cast<uint16_t>(rng());
  }
  return in;
}

class HalfKernelsExhaustiveTest : public PerHostIsaTest {};

// Words per call in the short-call passes: below the bf16 table's minimum, and no vector width
// divides it.
constexpr size_t kShortCall = 4001;

// The first index where two word buffers differ, with both words, for the failure message.
std::string FirstDifference(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "index %zu: got 0x%04X, want 0x%04X", i, got[i], want[i]);
      return buf;
    }
  }
  return "none";
}

TEST_P(HalfKernelsExhaustiveTest, ReductionsOfEveryWordMatchScalarLoops) {
  std::mt19937_64 rng(16);
  constexpr size_t kCopies = 8;
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMin, ReduceOp::kMax}) {
      // One element of slack in front: the kernels must not assume aligned buffers.
      std::vector<uint16_t> out = EveryWord(kCopies);
      out.insert(out.begin(), 0x3C00);
      std::vector<uint16_t> in = Partners(kCopies, rng);
      in.insert(in.begin(), 0x3C00);
      std::vector<uint16_t> expected = out;
      RefReduce16(type == DataType::kFloat16, op, expected.data() + 1, in.data() + 1,
                  out.size() - 1);
      kernels().reduce[static_cast<int>(type)][static_cast<int>(op)](out.data() + 1, in.data() + 1,
                                                                     out.size() - 1);
      ASSERT_EQ(out, expected) << HostIsaName(GetParam()) << " " << DataTypeName(type) << " "
                               << ReduceOpName(op) << ", first difference at "
                               << FirstDifference(out, expected);
    }
  }
}

TEST_P(HalfKernelsExhaustiveTest, FinalizeAvgOfEveryWordMatchesScalarDivision) {
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
    // Powers of two (fp16: a native multiply up to 2^24), small odd and even sizes (fp16's
    // Markstein division, whose ties only even sizes have), its limits (16384 the last size it
    // takes, 19680 exact in fp16 but past it, 16385 not exact), sizes fp16 cannot hold, and
    // sizes where bf16's a * (1 / n) rounds differently from a / n for some a (31335, 49195,
    // 88183: the near-tie guard's cases).
    for (int world_size : {1,     2,     3,     4,       5,         6,       7,
                           8,     10,    12,    16,      64,        1000,    1024,
                           2048,  16384, 16385, 19680,   65536,     1 << 24, (1 << 24) + 2,
                           31335, 49195, 88183, 1 << 30, 2147483647}) {
      std::vector<uint16_t> data = EveryWord(1);
      data.insert(data.begin(), 0x3C00);
      std::vector<uint16_t> expected = data;
      RefFinalize(type, reinterpret_cast<std::byte*>(expected.data() + 1), data.size() - 1,
                  world_size);
      std::vector<uint16_t> chunked = data;
      kernels().finalize_avg[static_cast<int>(type)](data.data() + 1, data.size() - 1, world_size);
      ASSERT_EQ(data, expected) << HostIsaName(GetParam()) << " " << DataTypeName(type) << " world "
                                << world_size << ", first difference at "
                                << FirstDifference(data, expected);
      // The same words in calls of fewer than 4096 (bf16 divides by its reciprocal there rather
      // than by a table).
      for (size_t begin = 1; begin < chunked.size(); begin += kShortCall) {
        kernels().finalize_avg[static_cast<int>(type)](
            chunked.data() + begin, std::min(kShortCall, chunked.size() - begin), world_size);
      }
      ASSERT_EQ(chunked, expected)
          << HostIsaName(GetParam()) << " " << DataTypeName(type) << " world " << world_size
          << " in short calls, first difference at " << FirstDifference(chunked, expected);
    }
  }
}

// The native fp16 division and the bf16 table hold for world sizes generally, not only for the
// ones above: every word divided by every size up to 128 and by a spread of sizes up to 2^15.
TEST_P(HalfKernelsExhaustiveTest, FinalizeAvgOfEveryWordByManyWorldSizesMatchesScalarDivision) {
  std::vector<int> world_sizes;
  for (int n = 1; n <= 128; ++n) world_sizes.push_back(n);
  for (int n = 129; n <= 32768; n += 331) world_sizes.push_back(n);
  for (int n = 2048; n <= 32768; n += 2 * 331) world_sizes.push_back(n);  // even, some fp16-exact
  std::vector<uint16_t> base = EveryWord(1);
  base.insert(base.begin(), 0x3C00);
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
    for (int world_size : world_sizes) {
      std::vector<uint16_t> data = base;
      std::vector<uint16_t> expected = base;
      RefFinalize(type, reinterpret_cast<std::byte*>(expected.data() + 1), data.size() - 1,
                  world_size);
      kernels().finalize_avg[static_cast<int>(type)](data.data() + 1, data.size() - 1, world_size);
      ASSERT_EQ(data, expected) << HostIsaName(GetParam()) << " " << DataTypeName(type) << " world "
                                << world_size << ", first difference at "
                                << FirstDifference(data, expected);
    }
  }
}

TEST_P(HalfKernelsExhaustiveTest, BFloat16EncoderRoundsEveryWordsNeighboursAsScalarCode) {
  // Every bf16 word as the high half of float32s whose low halves sit on and around the rounding
  // boundary (0x8000, a tie), at the ends, and at random; NaNs, infinities and subnormals are
  // among the high halves.
  std::mt19937_64 rng(17);
  const uint32_t kLowHalves[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF};
  std::vector<float> x;
  for (uint32_t high = 0; high < kWords; ++high) {
    for (uint32_t low : kLowHalves) x.push_back(std::bit_cast<float>(high << 16 | low));
    x.push_back(std::bit_cast<float>(high << 16 | static_cast<uint32_t>(rng() & 0xFFFF)));
  }
  x.push_back(1.0f);  // an odd length: a scalar tail
  const size_t n = x.size() - 1;
  std::vector<uint16_t> w(n + 1, 0), want(n + 1, 0);
  RefBFloat16Encode(x.data() + 1, n, nullptr, want.data() + 1);
  kernels().bf16_encode(x.data() + 1, n, nullptr, w.data() + 1);
  ASSERT_EQ(w, want) << HostIsaName(GetParam()) << ", first difference at "
                     << FirstDifference(w, want);

  // With error feedback: small residuals, and some that overflow or cancel (x + e infinite or
  // NaN), as the scalar loop handles them.
  std::vector<float> e(n + 1), want_e(n + 1);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  for (size_t i = 0; i < e.size(); ++i) {
    e[i] = i % 97 == 0 ? -x[i] * 2.0f : normal(rng);
    if (i % 101 == 0) e[i] = std::numeric_limits<float>::infinity();
  }
  want_e = e;
  RefBFloat16Encode(x.data() + 1, n, want_e.data() + 1, want.data() + 1);
  kernels().bf16_encode(x.data() + 1, n, e.data() + 1, w.data() + 1);
  ASSERT_EQ(w, want) << HostIsaName(GetParam()) << " with feedback, first difference at "
                     << FirstDifference(w, want);
  ASSERT_EQ(0, std::memcmp(e.data(), want_e.data(), e.size() * sizeof(float)))
      << HostIsaName(GetParam()) << ": residuals differ";
}

INSTANTIATE_TEST_SUITE_P(AllSets, HalfKernelsExhaustiveTest, ::testing::ValuesIn(kAllHostIsas),
                         [](const ::testing::TestParamInfo<HostIsa>& info) {
                           return std::string(HostIsaName(info.param));
                         });

}  // namespace
}  // namespace crosslink::collectives
