// The Communicator on CUDA device buffers (device_collectives.h): the same results as on host
// buffers, without the caller copying, for buffers that span several staging segments.
#include "crosslink/runtime/cuda/device_collectives.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "crosslink/collectives/plan.h"
#include "gtest/gtest.h"
#include "runtime_cuda_test_job.h"

namespace crosslink::runtime {
namespace {

using collectives::DataType;
using collectives::ReduceOp;
using collectives::cuda::testing::DeviceBuffer;
using testing::RunJob;
using testing::TestOptions;

constexpr int kRanks = 3;

// Small integers, so float sums are exact whatever the order.
float Value(int rank, size_t i) { return static_cast<float>((i % 97) + rank); }

TEST(DeviceCollectivesTest, AllreduceOfADeviceBufferMatchesTheHostResult) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  // Three and a bit staging segments, and an element count that is not a multiple of anything.
  const size_t count = 3 * kDeviceSegmentBytes / sizeof(float) + 1001;
  RunJob(kRanks, [&](int rank, Communicator& comm) {
    std::vector<float> host(count);
    for (size_t i = 0; i < count; ++i) host[i] = Value(rank, i);
    DeviceBuffer device(count * sizeof(float));
    device.Upload(host);
    ASSERT_TRUE(IsDeviceBuffer(device.get()));
    ASSERT_FALSE(IsDeviceBuffer(host.data()));
    const absl::Status status =
        comm.Allreduce(device.get(), count, DataType::kFloat32, ReduceOp::kSum, TestOptions());
    ASSERT_TRUE(status.ok()) << status;
    const std::vector<float> result = device.Download<float>();
    size_t wrong = 0;
    for (size_t i = 0; i < count; ++i) {
      float expected = 0;
      for (int r = 0; r < kRanks; ++r) expected += Value(r, i);
      wrong += result[i] != expected;
    }
    EXPECT_EQ(wrong, 0u) << "rank " << rank;
    // The sequence numbers stayed in step: a host collective right after still agrees.
    int64_t one = 1;
    ASSERT_TRUE(comm.Allreduce(&one, 1, DataType::kInt64, ReduceOp::kSum, TestOptions()).ok());
    EXPECT_EQ(one, kRanks);
  });
}

TEST(DeviceCollectivesTest, IntegerAverageTruncatesLikeTheHostPath) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  RunJob(kRanks, [&](int rank, Communicator& comm) {
    // Ranks hold 0, 1, 2 (+ i): sum 3 + 3i, average 1 + i; and -1, -2, -3 averages to -2.
    std::vector<int32_t> host = {rank, rank + 1, -(rank + 1)};
    DeviceBuffer device(host.size() * sizeof(int32_t));
    device.Upload(host);
    ASSERT_TRUE(
        comm.Allreduce(device.get(), host.size(), DataType::kInt32, ReduceOp::kAvg, TestOptions())
            .ok());
    const std::vector<int32_t> result = device.Download<int32_t>();
    EXPECT_EQ(result, (std::vector<int32_t>{1, 2, -2})) << "rank " << rank;
  });
}

TEST(DeviceCollectivesTest, BroadcastReduceScatterAndAllgatherOnDeviceBuffers) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  const size_t per_rank = 1000;
  const size_t count = per_rank * kRanks;
  RunJob(kRanks, [&](int rank, Communicator& comm) {
    // Broadcast from rank 1.
    std::vector<float> host(count);
    for (size_t i = 0; i < count; ++i) host[i] = Value(rank, i);
    DeviceBuffer data(count * sizeof(float));
    data.Upload(host);
    ASSERT_TRUE(comm.Broadcast(data.get(), count, DataType::kFloat32, 1, TestOptions()).ok());
    std::vector<float> result = data.Download<float>();
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(result[i], Value(1, i)) << i;

    // Reduce-scatter: this rank's block holds the sum.
    data.Upload(host);
    ASSERT_TRUE(
        comm.ReduceScatter(data.get(), count, DataType::kFloat32, ReduceOp::kSum, TestOptions())
            .ok());
    result = data.Download<float>();
    const collectives::Range block = collectives::BlockRange(count, kRanks, rank);
    for (size_t i = block.offset; i < block.offset + block.count; ++i) {
      float expected = 0;
      for (int r = 0; r < kRanks; ++r) expected += Value(r, i);
      ASSERT_EQ(result[i], expected) << i;
    }

    // Allgather from a separate device input, and from a host input into a device output.
    std::vector<float> mine(per_rank, static_cast<float>(rank + 10));
    DeviceBuffer input(per_rank * sizeof(float));
    input.Upload(mine);
    DeviceBuffer output(count * sizeof(float));
    ASSERT_TRUE(
        comm.Allgather(input.get(), output.get(), per_rank, DataType::kFloat32, TestOptions())
            .ok());
    result = output.Download<float>();
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(result[i], static_cast<float>(i / per_rank + 10));
    std::vector<float> host_output(count, -1);
    ASSERT_TRUE(
        comm.Allgather(input.get(), host_output.data(), per_rank, DataType::kFloat32, TestOptions())
            .ok());
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(host_output[i], static_cast<float>(i / per_rank + 10));
    }
  });
}

}  // namespace
}  // namespace crosslink::runtime
