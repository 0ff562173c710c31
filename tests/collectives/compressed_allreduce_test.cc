// Compressed allreduce (bf16 and int8 blockwise on the wire, wire_codec.h) over an in-process
// mesh: results stay within the documented bound of the exact fp64 sum, every rank ends with the
// same bits, the wire really carries fewer bytes, error feedback makes the error of a sum over
// steps stay bounded (the mean error falls like 1/K), and ranks that disagree on the compression
// fail with kInvalidArgument.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collective_test_util.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/compression/error_feedback.h"
#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/compression/wire_codec.h"
#include "crosslink/collectives/executor.h"
#include "crosslink/collectives/simulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outage_test_plans.h"

namespace crosslink::collectives {
namespace {

using testing::Mesh;

// The documented bound (CompressedAllreduceErrorFactor, wire_codec.h): factor * W, with W the
// sum of |inputs| of the element (bf16) or the largest over its int8 block, which lies within 255
// elements of it either way. kAvg: / n.
std::vector<double> Bounds(const std::vector<std::vector<float>>& inputs, WireCompression c,
                           ReduceOp op) {
  const int n = static_cast<int>(inputs.size());
  const size_t count = inputs[0].size();
  std::vector<double> abs_sum(count, 0.0);
  for (const auto& in : inputs) {
    for (size_t i = 0; i < count; ++i) abs_sum[i] += std::fabs(static_cast<double>(in[i]));
  }
  const double factor = CompressedAllreduceErrorFactor(c, n);
  std::vector<double> bound(count);
  for (size_t i = 0; i < count; ++i) {
    double w = abs_sum[i];
    if (c == WireCompression::kInt8) {
      const size_t lo = i >= kInt8BlockSize - 1 ? i - (kInt8BlockSize - 1) : 0;
      const size_t hi = std::min(count, i + kInt8BlockSize);
      w = *std::max_element(abs_sum.begin() + lo, abs_sum.begin() + hi);
    }
    bound[i] = factor * w * (op == ReduceOp::kAvg ? 1.0 / n : 1.0);
  }
  return bound;
}

std::vector<double> Exact(const std::vector<std::vector<float>>& inputs, ReduceOp op) {
  std::vector<double> exact(inputs[0].size(), 0.0);
  for (const auto& in : inputs) {
    for (size_t i = 0; i < in.size(); ++i) exact[i] += in[i];
  }
  if (op == ReduceOp::kAvg) {
    for (double& e : exact) e /= static_cast<double>(inputs.size());
  }
  return exact;
}

std::vector<std::vector<float>> RandomInputs(int n, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-10.0f, 10.0f);
  std::uniform_real_distribution<float> log_scale(-3.0f, 3.0f);
  std::vector<std::vector<float>> inputs(n, std::vector<float>(count));
  // Magnitudes vary by block so that the int8 scales differ from block to block.
  for (size_t i = 0; i < count; ++i) {
    const float scale = std::pow(10.0f, log_scale(rng));
    for (int r = 0; r < n; ++r) inputs[r][i] = value(rng) * scale;
  }
  return inputs;
}

// Runs one allreduce of `inputs` over `mesh`; returns every rank's result.
std::vector<std::vector<float>> RunAllreduce(Mesh& mesh, const std::vector<std::vector<float>>& in,
                                             AllreduceAlgorithm algorithm, WireCompression c,
                                             ReduceOp op, size_t max_segment_bytes,
                                             std::vector<ErrorFeedback>* feedback = nullptr) {
  const int n = mesh.world_size();
  std::vector<std::vector<float>> out = in;
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveOptions options;
    options.algorithm = algorithm;
    options.compression = c;
    options.max_segment_bytes = max_segment_bytes;
    options.error_feedback = feedback != nullptr ? &(*feedback)[r] : nullptr;
    options.deadline = absl::Now() + absl::Seconds(30);
    return Allreduce(mesh.Context(r), out[r].data(), out[r].size(), DataType::kFloat32, op,
                     options);
  });
  for (int r = 0; r < n; ++r) EXPECT_TRUE(statuses[r].ok()) << "rank " << r << ": " << statuses[r];
  return out;
}

void ExpectBitIdentical(const std::vector<std::vector<float>>& out, const std::string& what) {
  for (size_t r = 1; r < out.size(); ++r) {
    ASSERT_EQ(std::memcmp(out[r].data(), out[0].data(), out[0].size() * sizeof(float)), 0)
        << what << ": rank " << r << " differs from rank 0";
  }
}

TEST(WireCodecTest, SizesAndSingleEncodeBound) {
  EXPECT_EQ(WireBytes(WireCompression::kNone, 1000), 4000u);
  EXPECT_EQ(WireBytes(WireCompression::kBf16, 1000), 2000u);
  EXPECT_EQ(WireBytes(WireCompression::kInt8, 1000), 1000u + 4 * 4);  // 4 blocks of <= 256
  EXPECT_EQ(WireBytes(WireCompression::kInt8, 0), 0u);
  EXPECT_EQ(CompressedAllreduceErrorFactor(WireCompression::kNone, 8), 0.0);
  EXPECT_NEAR(CompressedAllreduceErrorFactor(WireCompression::kInt8, 4), 4.0 / 250, 1e-6);
  EXPECT_TRUE(std::isinf(CompressedAllreduceErrorFactor(WireCompression::kInt8, 300)));
  const std::vector<std::vector<float>> in = RandomInputs(1, 1000, 7);
  for (WireCompression c : {WireCompression::kBf16, WireCompression::kInt8}) {
    std::vector<std::byte> wire(WireBytes(c, 1000) + 4);
    std::vector<float> decoded(1000), residual(1000, 0.0f);
    EncodeWire(c, in[0].data(), 1000, residual.data(), wire.data());
    DecodeWire(c, wire.data(), 1000, decoded.data());
    for (size_t i = 0; i < 1000; ++i) {
      const size_t b = i / kInt8BlockSize * kInt8BlockSize;
      float block_max = 0;
      for (size_t j = b; j < std::min<size_t>(1000, b + kInt8BlockSize); ++j) {
        block_max = std::max(block_max, std::fabs(in[0][j]));
      }
      const double bound = c == WireCompression::kBf16 ? std::ldexp(std::fabs(in[0][i]), -8)
                                                       : block_max / 254.0 * (1 + 1e-6);
      EXPECT_LE(std::fabs(decoded[i] - in[0][i]), bound) << WireCompressionName(c) << " " << i;
      // The residual is exactly what was rounded away.
      EXPECT_EQ(residual[i], in[0][i] - decoded[i]) << WireCompressionName(c) << " " << i;
    }
    // Decode-and-reduce matches decode then add.
    std::vector<float> acc = in[0], expect(1000);
    DecodeReduceWire(c, wire.data(), 1000, GetReduceFn(DataType::kFloat32, ReduceOp::kSum),
                     acc.data());
    for (size_t i = 0; i < 1000; ++i) EXPECT_EQ(acc[i], in[0][i] + decoded[i]);
  }
}

// An empty message may come with null buffers; encoding and decoding it touch nothing (found by
// tests/fuzz/compressed_wire_fuzzer: memcpy from null, undefined even for zero bytes; the asan
// preset's UBSan reports it).
TEST(WireCodecTest, EmptyMessageWithNullBuffersIsANoOp) {
  for (WireCompression c :
       {WireCompression::kNone, WireCompression::kBf16, WireCompression::kInt8}) {
    EXPECT_EQ(WireBytes(c, 0), 0u);
    EncodeWire(c, nullptr, 0, nullptr, nullptr);
    DecodeWire(c, nullptr, 0, nullptr);
    DecodeReduceWire(c, nullptr, 0, GetReduceFn(DataType::kFloat32, ReduceOp::kSum), nullptr);
  }
}

TEST(CompressedAllreduceTest, WithinBoundAndBitIdenticalOnEveryRank) {
  for (int n : {2, 3, 4, 7}) {
    Mesh mesh(n);
    for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
      for (WireCompression c : {WireCompression::kBf16, WireCompression::kInt8}) {
        for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
          // Counts that do not divide by n, blocks that are not multiples of 256, a buffer
          // smaller than the world, and segments of 150 and 1000 floats (blocks cut mid-way).
          for (size_t count : {size_t{1}, size_t{5}, size_t{1000}, size_t{3 * 256 + 77}}) {
            for (size_t segment_bytes : {size_t{600}, size_t{4000}, size_t{512} << 10}) {
              const std::string what = absl::StrCat(
                  "n=", n, " ", algorithm == AllreduceAlgorithm::kRing ? "ring" : "tree", " ",
                  WireCompressionName(c), " op=", static_cast<int>(op), " count=", count,
                  " segment=", segment_bytes);
              const auto in = RandomInputs(n, count, count * 131 + n);
              const auto out = RunAllreduce(mesh, in, algorithm, c, op, segment_bytes);
              ExpectBitIdentical(out, what);
              const std::vector<double> exact = Exact(in, op);
              const std::vector<double> bound = Bounds(in, c, op);
              for (size_t i = 0; i < count; ++i) {
                ASSERT_LE(std::fabs(out[0][i] - exact[i]), bound[i])
                    << what << " element " << i << ": " << out[0][i] << " vs " << exact[i];
              }
            }
          }
        }
      }
    }
  }
}

TEST(CompressedAllreduceTest, UncompressedTypesAndCollectivesAreUnaffected) {
  // Compression asked for int32 data: the planner leaves it off, the result is exact.
  Mesh mesh(3);
  std::vector<std::vector<int32_t>> data(3, std::vector<int32_t>(100));
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 100; ++i) data[r][i] = r * 1000 + i;
  }
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveOptions options;
    options.compression = WireCompression::kInt8;
    return Allreduce(mesh.Context(r), data[r].data(), 100, DataType::kInt32, ReduceOp::kSum,
                     options);
  });
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    for (int i = 0; i < 100; ++i) ASSERT_EQ(data[r][i], 3000 + 3 * i);
  }
  CollectiveSpec request;
  request.world_size = 3;
  request.count = 100;
  request.compression = WireCompression::kBf16;
  EXPECT_EQ(PlanReduceScatter(request)->compression, WireCompression::kNone);
  EXPECT_EQ(PlanRingAllreduce(request)->compression, WireCompression::kBf16);
  EXPECT_THAT(DescribePlan(*PlanRingAllreduce(request)), ::testing::HasSubstr("compression=bf16"));
}

TEST(CompressedAllreduceTest, RanksThatDisagreeOnCompressionFailWithInvalidArgument) {
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    Mesh mesh(4);
    std::vector<std::vector<float>> data(4, std::vector<float>(1000, 1.0f));
    std::vector<absl::Status> statuses = mesh.Run([&](int r) {
      CollectiveOptions options;
      options.algorithm = algorithm;
      options.compression = r == 2 ? WireCompression::kBf16 : WireCompression::kInt8;
      options.max_segment_bytes = 1024;
      options.deadline = absl::Now() + absl::Seconds(10);
      return Allreduce(mesh.Context(r), data[r].data(), 1000, DataType::kFloat32, ReduceOp::kSum,
                       options);
    });
    for (int r = 0; r < 4; ++r) {
      EXPECT_EQ(statuses[r].code(), absl::StatusCode::kInvalidArgument)
          << "rank " << r << ": " << statuses[r];
    }
  }
}

// Counts the payload bytes of every message sent through it.
class CountingConnection : public Connection {
 public:
  CountingConnection(std::unique_ptr<Connection> inner, std::atomic<uint64_t>* bytes)
      : inner_(std::move(inner)), bytes_(bytes) {}
  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override {
    *bytes_ += payload.size();
    return inner_->Send(header, payload);
  }
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) override {
    *bytes_ += payload.size();
    return inner_->SendWithCrc(header, payload, payload_crc32c);
  }
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override {
    return inner_->Recv(buffer);
  }
  void Close(absl::Status reason) override { inner_->Close(reason); }
  absl::Status status() const override { return inner_->status(); }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<Connection> inner_;
  std::atomic<uint64_t>* bytes_;
};

TEST(CompressedAllreduceTest, WireCarriesHalfForBf16AndAboutAQuarterForInt8) {
  constexpr int kRanks = 4;
  constexpr size_t kCount = 1 << 18;
  Mesh mesh(kRanks);
  std::atomic<uint64_t> bytes{0};
  for (int r = 0; r < kRanks; ++r) {
    for (int p = 0; p < kRanks; ++p) {
      if (p != r) {
        mesh.Replace(r, p, std::make_unique<CountingConnection>(mesh.Take(r, p), &bytes));
      }
    }
  }
  const auto in = RandomInputs(kRanks, kCount, 3);
  uint64_t sent[3] = {};
  for (WireCompression c :
       {WireCompression::kNone, WireCompression::kBf16, WireCompression::kInt8}) {
    for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
      bytes = 0;
      const auto out = RunAllreduce(mesh, in, algorithm, c, ReduceOp::kSum, 64 << 10);
      ExpectBitIdentical(out, WireCompressionName(c));
      if (algorithm == AllreduceAlgorithm::kRing) sent[static_cast<int>(c)] = bytes;
    }
  }
  // Ring: every rank sends 2 (n-1)/n of the buffer.
  EXPECT_EQ(sent[0], 2u * (kRanks - 1) * kCount * 4);
  const double bf16 = static_cast<double>(sent[1]) / static_cast<double>(sent[0]);
  const double int8 = static_cast<double>(sent[2]) / static_cast<double>(sent[0]);
  EXPECT_DOUBLE_EQ(bf16, 0.5);
  EXPECT_GT(int8, 0.25);
  EXPECT_LT(int8, 0.27);
  std::printf(
      "wire bytes, 4-rank ring of %zu floats: none %llu, bf16 %llu (%.4fx), int8 %llu "
      "(%.4fx)\n",
      kCount, static_cast<unsigned long long>(sent[0]), static_cast<unsigned long long>(sent[1]),
      bf16, static_cast<unsigned long long>(sent[2]), int8);
}

// Same inputs every step, so that without error feedback every step makes the same error and the
// sum over K steps drifts by K times it; with error feedback it stays within one step's bound.
void ExpectErrorFeedbackConverges(WireCompression c, AllreduceAlgorithm algorithm) {
  constexpr int kRanks = 4;
  constexpr size_t kCount = 1000;
  constexpr int kSteps = 64;
  Mesh mesh(kRanks);
  const auto in = RandomInputs(kRanks, kCount, 11);
  const std::vector<double> exact = Exact(in, ReduceOp::kSum);
  const std::vector<double> bound = Bounds(in, c, ReduceOp::kSum);
  std::vector<ErrorFeedback> feedback(kRanks);
  std::vector<double> with(kCount, 0.0), without(kCount, 0.0);
  auto mean_error = [&](const std::vector<double>& sum, int k) {
    double worst = 0;
    for (size_t i = 0; i < kCount; ++i) {
      worst = std::max(worst, std::fabs(sum[i] / k - exact[i]) / bound[i]);
    }
    return worst;  // in units of the one-step bound
  };
  double first_with = 0, first_without = 0;
  for (int k = 1; k <= kSteps; ++k) {
    const auto a = RunAllreduce(mesh, in, algorithm, c, ReduceOp::kSum, 1200, &feedback);
    const auto b = RunAllreduce(mesh, in, algorithm, c, ReduceOp::kSum, 1200);
    ExpectBitIdentical(a, "with error feedback");
    for (size_t i = 0; i < kCount; ++i) {
      ASSERT_LE(std::fabs(a[0][i] - exact[i]), 2 * bound[i]) << "step " << k << " element " << i;
      with[i] += a[0][i];
      without[i] += b[0][i];
    }
    if (k == 1) {
      first_with = mean_error(with, 1);
      first_without = mean_error(without, 1);
      EXPECT_EQ(first_with, first_without) << "a zero residual changes nothing";
    }
  }
  const double last_with = mean_error(with, kSteps);
  const double last_without = mean_error(without, kSteps);
  std::printf(
      "%s %s: mean error after 1 step %.4f, after %d steps %.5f with error feedback, "
      "%.4f without (units of the one-step bound)\n",
      WireCompressionName(c), algorithm == AllreduceAlgorithm::kRing ? "ring" : "tree", first_with,
      kSteps, last_with, last_without);
  // Sum over K steps within (residuals of one step) + K float32 roundings: the mean falls ~1/K.
  EXPECT_LE(last_with, 2.0 / kSteps + 1e-3);
  EXPECT_GT(last_without, first_without * 0.99);  // without it, the error does not average out
}

TEST(CompressedAllreduceTest, ErrorFeedbackMakesTheMeanErrorFallLikeOneOverK) {
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    ExpectErrorFeedbackConverges(WireCompression::kInt8, algorithm);
    ExpectErrorFeedbackConverges(WireCompression::kBf16, algorithm);
  }
}

TEST(CompressedAllreduceTest, SimulatorSendsTheCompressedBytes) {
  const linkmodel::ContactPlan contacts =
      testing::TestPlan(4,
                        {testing::TestLink(0, 1, 3000), testing::TestLink(1, 2, 3000),
                         testing::TestLink(2, 3, 3000), testing::TestLink(0, 3, 3000)},
                        true);
  CollectiveSpec request;
  request.world_size = 4;
  request.count = (1 << 20) + 77;
  uint64_t bytes[3] = {};
  double time_s[3] = {};
  for (WireCompression c :
       {WireCompression::kNone, WireCompression::kBf16, WireCompression::kInt8}) {
    request.compression = c;
    absl::StatusOr<Plan> ring = PlanRingAllreduce(request);
    ASSERT_TRUE(ring.ok()) << ring.status();
    absl::StatusOr<SimulationResult> r = SimulatePlan(*ring, contacts, {0, 1, 2, 3}, 0.0, {});
    ASSERT_TRUE(r.ok()) << r.status();
    uint64_t expected = 0;
    for (const auto& steps : ring->ranks) {
      for (const Step& s : steps) expected += s.op == StepOp::kSend ? WireBytes(c, s.count) : 0;
    }
    EXPECT_EQ(r->bytes_sent, expected) << WireCompressionName(c);
    bytes[static_cast<int>(c)] = r->bytes_sent;
    time_s[static_cast<int>(c)] = r->completion_s;
  }
  EXPECT_EQ(bytes[1] * 2, bytes[0]);
  EXPECT_LT(bytes[2] * 3, bytes[0]);
  EXPECT_LT(time_s[1], time_s[0]);
  EXPECT_LT(time_s[2], time_s[1]);
}

TEST(CompressedAllreduceTest, ErrorFeedbackRestartsWhenTheShapeChanges) {
  ErrorFeedback feedback;
  float* r = feedback.Prepare(10, WireCompression::kInt8);
  r[3] = 1.0f;
  EXPECT_EQ(feedback.Prepare(10, WireCompression::kInt8)[3], 1.0f);
  EXPECT_EQ(feedback.Prepare(10, WireCompression::kBf16)[3], 0.0f);
  feedback.Prepare(10, WireCompression::kBf16)[3] = 2.0f;
  EXPECT_EQ(feedback.Prepare(11, WireCompression::kBf16)[3], 0.0f);
}

}  // namespace
}  // namespace crosslink::collectives
