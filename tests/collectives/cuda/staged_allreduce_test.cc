// DeviceStagedAllreduce over the in-process mesh: one thread per rank, each rank its own device
// buffer and stream on the one GPU. The result must equal, bit for bit on every rank, the host
// ring allreduce of each segment; work queued on the caller's stream before the call must be
// seen, and work queued after it must see the result; sequence numbers advance by the segment
// count; pinned staging memory is reused across calls.
#include "crosslink/collectives/cuda/staged_allreduce.h"

#include <cstring>
#include <memory>
#include <vector>

#include "../collective_test_util.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/cuda/device_pointer.h"
#include "cuda_test_util.h"
#include "gtest/gtest.h"

namespace crosslink::collectives::cuda {
namespace {

using collectives::testing::Bytes;
using collectives::testing::Mesh;

// The host ring reference applied to each segment separately, as the staged path runs them.
Bytes SegmentedRingReference(const std::vector<Bytes>& inputs, DataType type, ReduceOp op,
                             size_t count, size_t segment_elements) {
  const size_t es = DataTypeSize(type);
  Bytes out(count * es);
  for (size_t offset = 0; offset < count; offset += segment_elements) {
    const size_t n = std::min(segment_elements, count - offset);
    std::vector<Bytes> slices;
    for (const Bytes& in : inputs) {
      slices.emplace_back(in.begin() + offset * es, in.begin() + (offset + n) * es);
    }
    const Bytes reduced = collectives::testing::RingReference(slices, type, op, n);
    std::memcpy(out.data() + offset * es, reduced.data(), reduced.size());
  }
  return out;
}

struct RankState {
  std::unique_ptr<DeviceStagedAllreduce> stager;
  cudaStream_t stream = nullptr;
  void* device = nullptr;
};

void CheckStaged(int world_size, DataType type, ReduceOp op, size_t count, size_t segment_bytes,
                 int calls) {
  const size_t es = DataTypeSize(type);
  Mesh mesh(world_size);
  std::vector<RankState> ranks(world_size);
  for (RankState& r : ranks) {
    auto stager = DeviceStagedAllreduce::Create();
    ASSERT_TRUE(stager.ok()) << stager.status();
    r.stager = *std::move(stager);
    ASSERT_EQ(cudaSuccess, cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking));
    ASSERT_EQ(cudaSuccess, cudaMalloc(&r.device, std::max<size_t>(count * es, 1)));
    ASSERT_TRUE(IsDevicePointer(r.device));
  }
  DeviceStagedAllreduceOptions options;
  options.segment_bytes = segment_bytes;
  options.allreduce.algorithm = AllreduceAlgorithm::kRing;
  options.allreduce.max_segment_bytes = 4096;
  const size_t segments = DeviceStagedAllreduce::SegmentCount(count, type, segment_bytes);
  // Each call's collectives take sequence numbers [base, base + segments); the mesh hands every
  // rank the same base, the call after the previous one's last.
  std::vector<uint64_t> sequence_after(world_size, 0);
  uint64_t base = 0;
  size_t pinned_after_first = 0;
  for (int call = 0; call < calls; ++call) {
    std::vector<Bytes> inputs;
    for (int r = 0; r < world_size; ++r) {
      inputs.push_back(
          collectives::testing::RandomBuffer(type, count, 1000 * call + 17 * r + count));
    }
    std::vector<Bytes> results(world_size, Bytes(count * es));
    const std::string what =
        absl::StrFormat("n=%d %s %s count=%u segment=%u call %d", world_size, DataTypeName(type),
                        ReduceOpName(op), count, segment_bytes, call);
    std::vector<absl::Status> statuses = mesh.Run([&](int r) -> absl::Status {
      RankState& s = ranks[r];
      // Queued, not synchronised: the staged copies must wait for it through the stream.
      if (cudaMemcpyAsync(s.device, inputs[r].data(), count * es, cudaMemcpyHostToDevice,
                          s.stream) != cudaSuccess) {
        return absl::InternalError("upload");
      }
      CollectiveContext context = mesh.Context(r);
      context.sequence = base;
      absl::Status status = s.stager->Run(context, s.device, count, type, op, options, s.stream);
      sequence_after[r] = context.sequence;
      if (!status.ok()) return status;
      // Queued after the call on the same stream: must see the reduced values.
      if (cudaMemcpyAsync(results[r].data(), s.device, count * es, cudaMemcpyDeviceToHost,
                          s.stream) != cudaSuccess ||
          cudaStreamSynchronize(s.stream) != cudaSuccess) {
        return absl::InternalError("download");
      }
      return absl::OkStatus();
    });
    const Bytes expected =
        SegmentedRingReference(inputs, type, op, count, std::max<size_t>(1, segment_bytes / es));
    for (int r = 0; r < world_size; ++r) {
      ASSERT_TRUE(statuses[r].ok()) << what << ": rank " << r << ": " << statuses[r];
      ASSERT_EQ(sequence_after[r], base + segments) << what;
      ASSERT_EQ(0, std::memcmp(results[r].data(), expected.data(), expected.size()))
          << what << ": rank " << r << " differs from the host ring reference";
    }
    base += segments;
    if (call == 0) pinned_after_first = ranks[0].stager->pinned_bytes();
    ASSERT_EQ(ranks[0].stager->pinned_bytes(), pinned_after_first)
        << "the staging buffer is reused, not reallocated";
  }
  for (RankState& r : ranks) {
    cudaFree(r.device);
    cudaStreamDestroy(r.stream);
  }
}

TEST(DeviceStagedAllreduceTest, MatchesHostRingPerSegmentOnTwoToFourRanks) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  struct Case {
    DataType type;
    ReduceOp op;
  };
  const Case cases[] = {{DataType::kFloat32, ReduceOp::kSum},  {DataType::kFloat16, ReduceOp::kAvg},
                        {DataType::kBFloat16, ReduceOp::kMax}, {DataType::kInt64, ReduceOp::kSum},
                        {DataType::kFloat64, ReduceOp::kMin},  {DataType::kInt32, ReduceOp::kAvg}};
  for (int n : {2, 3, 4}) {
    for (const Case& c : cases) {
      // 100003 elements in 64 KiB segments: many segments, the last one short.
      CheckStaged(n, c.type, c.op, 100003, 64 << 10, /*calls=*/2);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(DeviceStagedAllreduceTest, OneSegmentAndEmptyBuffers) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  CheckStaged(3, DataType::kFloat32, ReduceOp::kSum, 1000, 8 << 20, 2);
  if (HasFatalFailure()) return;
  CheckStaged(2, DataType::kFloat32, ReduceOp::kSum, 0, 8 << 20, 1);
}

TEST(DeviceStagedAllreduceTest, HostBufferIsInvalidArgumentAndStillAdvancesTheSequence) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  auto stager = DeviceStagedAllreduce::Create();
  ASSERT_TRUE(stager.ok()) << stager.status();
  std::vector<float> host(1024);
  EXPECT_FALSE(IsDevicePointer(host.data()));
  CollectiveContext context;
  context.sequence = 5;
  DeviceStagedAllreduceOptions options;
  options.segment_bytes = 1024;
  const absl::Status status = (*stager)->Run(context, host.data(), host.size(), DataType::kFloat32,
                                             ReduceOp::kSum, options, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(context.sequence, 5u + 4u);
}

}  // namespace
}  // namespace crosslink::collectives::cuda
