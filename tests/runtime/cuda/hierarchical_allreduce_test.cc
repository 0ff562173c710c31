// The hierarchical allreduce (NCCL inside a node, Crosslink across nodes): the flat allreduce's
// result for every G the machine can host. A machine with one GPU runs G = 1, with and without
// the NCCL steps (NCCL refuses two ranks of one communicator on the same GPU); G = 2 needs two
// GPUs and skips, saying so, where NCCL refuses.
#include "crosslink/runtime/cuda/hierarchical_allreduce.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "runtime_cuda_test_job.h"

namespace crosslink::runtime {
namespace {

using collectives::DataType;
using collectives::ReduceOp;
using collectives::cuda::testing::DeviceBuffer;
using testing::RunJob;
using testing::TestOptions;

float Value(int rank, size_t i) { return static_cast<float>((i % 61) + 2 * rank); }

struct Outcome {
  absl::Mutex mu;
  std::string create_error;  // the first rank's Create failure, if any
};

// Runs a job of world_size ranks with local_size GPUs per node; every rank allreduces `count`
// floats (sum) and int32 (avg) hierarchically and checks the flat result. Returns the first
// Create error (empty when every rank created its object).
std::string RunHierarchical(int world_size, int local_size, size_t count, bool force_nccl) {
  int devices = 0;
  cudaGetDeviceCount(&devices);
  Outcome outcome;
  RunJob(world_size, [&](int rank, Communicator& comm) {
    ASSERT_EQ(cudaSuccess, cudaSetDevice((rank % local_size) % devices));
    absl::StatusOr<NodeLayout> layout =
        MakeNodeLayout(rank, world_size, rank % local_size, local_size);
    ASSERT_TRUE(layout.ok()) << layout.status();
    HierarchicalAllreduceOptions options;
    options.nccl_with_one_gpu = force_nccl;
    options.setup_timeout = absl::Seconds(30);
    absl::StatusOr<std::unique_ptr<HierarchicalAllreduce>> hierarchical =
        HierarchicalAllreduce::Create(comm, *layout, options);
    if (!hierarchical.ok()) {
      absl::MutexLock lock(&outcome.mu);
      if (outcome.create_error.empty()) outcome.create_error = hierarchical.status().ToString();
      return;
    }
    EXPECT_EQ((*hierarchical)->uses_nccl(), local_size > 1 || force_nccl);

    std::vector<float> host(count);
    for (size_t i = 0; i < count; ++i) host[i] = Value(rank, i);
    DeviceBuffer device(count * sizeof(float));
    device.Upload(host);
    absl::Status status =
        (*hierarchical)
            ->Allreduce(device.get(), count, DataType::kFloat32, ReduceOp::kSum, TestOptions());
    ASSERT_TRUE(status.ok()) << status;
    const std::vector<float> result = device.Download<float>();
    size_t wrong = 0;
    for (size_t i = 0; i < count; ++i) {
      float expected = 0;
      for (int r = 0; r < world_size; ++r) expected += Value(r, i);
      wrong += result[i] != expected;
    }
    EXPECT_EQ(wrong, 0u) << "rank " << rank;

    // Average of int32: one truncating division by the world size, as on the flat path.
    std::vector<int32_t> ints = {rank, -rank - 1, 7};
    DeviceBuffer int_device(ints.size() * sizeof(int32_t));
    int_device.Upload(ints);
    status = (*hierarchical)
                 ->Allreduce(int_device.get(), ints.size(), DataType::kInt32, ReduceOp::kAvg,
                             TestOptions());
    ASSERT_TRUE(status.ok()) << status;
    int32_t sum0 = 0, sum1 = 0;
    for (int r = 0; r < world_size; ++r) {
      sum0 += r;
      sum1 += -r - 1;
    }
    EXPECT_EQ(int_device.Download<int32_t>(),
              (std::vector<int32_t>{sum0 / world_size, sum1 / world_size, 7}))
        << "rank " << rank;

    // A host buffer is refused, not silently staged.
    EXPECT_EQ((*hierarchical)
                  ->Allreduce(host.data(), count, DataType::kFloat32, ReduceOp::kSum, TestOptions())
                  .code(),
              absl::StatusCode::kInvalidArgument);
  });
  return outcome.create_error;
}

TEST(HierarchicalAllreduceTest, OneGpuPerNodeRunsTheCrossNodePathOnly) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  EXPECT_EQ(RunHierarchical(/*world_size=*/3, /*local_size=*/1, 100003, /*force_nccl=*/false), "");
}

TEST(HierarchicalAllreduceTest, OneGpuPerNodeThroughNccl) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  EXPECT_EQ(RunHierarchical(/*world_size=*/2, /*local_size=*/1, 100003, /*force_nccl=*/true), "");
}

TEST(HierarchicalAllreduceTest, TwoGpusPerNodeWithPadding) {
  CROSSLINK_SKIP_WITHOUT_CUDA();
  int devices = 0;
  ASSERT_EQ(cudaSuccess, cudaGetDeviceCount(&devices));
  // 2 nodes of 2 GPUs; an odd count exercises the padded copy.
  const std::string error = RunHierarchical(/*world_size=*/4, /*local_size=*/2, 100003, false);
  if (!error.empty() && devices < 2) {
    GTEST_SKIP() << "one GPU: NCCL refused two ranks on it (" << error << ")";
  }
  EXPECT_EQ(error, "");
}

}  // namespace
}  // namespace crosslink::runtime
