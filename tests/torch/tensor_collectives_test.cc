// TensorCollectives on CPU tensors, with every rank of a job in this process (torch_test_job.h).
// The properties: every dtype and op gives what a CPU reduction of the ranks' tensors gives;
// broadcast, allgather and reduce_scatter put the right blocks in the right places and leave
// inputs alone; async works complete in issue order and a Wait deadline does not cancel the
// collective; bad tensors are refused up front with kInvalidArgument naming the problem. Where
// libtorch has CUDA and a GPU is present, CUDA tensors give the same results in place (the ranks
// share the one GPU); elsewhere that test skips.
#include "crosslink/torch/tensor_collectives.h"

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/maximum.h>
#include <ATen/ops/minimum.h>
#include <ATen/ops/zeros.h>

#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch_test_job.h"

namespace crosslink::torch {
namespace {

using collectives::ReduceOp;
using ::testing::HasSubstr;
using testing::RunJob;
using testing::TestOptions;

// Rank r's tensor: small integers (exact in every dtype, sums too), different on every rank.
at::Tensor RankTensor(int rank, int64_t count, c10::ScalarType type) {
  return (at::arange(count, at::TensorOptions().dtype(c10::kLong)).mul(rank + 3).remainder(13) - 6)
      .to(type);
}

at::Tensor Reference(int world_size, int64_t count, c10::ScalarType type, ReduceOp op) {
  at::Tensor result = RankTensor(0, count, type);
  for (int r = 1; r < world_size; ++r) {
    const at::Tensor t = RankTensor(r, count, type);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        result = result + t;
        break;
      case ReduceOp::kMin:
        result = at::minimum(result, t);
        break;
      case ReduceOp::kMax:
        result = at::maximum(result, t);
        break;
    }
  }
  if (op == ReduceOp::kAvg) {
    result = c10::isIntegralType(type, /*includeBool=*/false)
                 ? result.div(world_size, /*rounding_mode=*/"trunc")
                 : result.div(world_size);
  }
  return result;
}

TEST(TensorCollectivesTest, AllreduceOfEveryDtypeAndOpMatchesTheCpuReference) {
  constexpr int kRanks = 3;
  const std::vector<c10::ScalarType> types = {c10::kFloat,    c10::kDouble, c10::kHalf,
                                              c10::kBFloat16, c10::kInt,    c10::kLong};
  const std::vector<ReduceOp> ops = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin,
                                     ReduceOp::kMax};
  // 1001: blocks of unequal size on 3 ranks.
  constexpr int64_t kCount = 1001;
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    for (c10::ScalarType type : types) {
      for (ReduceOp op : ops) {
        // A 2-D tensor: the shape is kept, the storage reduced in place.
        at::Tensor t = RankTensor(rank, kCount, type).view({7, 143});
        const void* storage = t.data_ptr();
        ASSERT_TRUE(tc->Allreduce(t, op, TestOptions()).ok());
        EXPECT_EQ(t.data_ptr(), storage);
        const at::Tensor expected = Reference(kRanks, kCount, type, op).view({7, 143});
        if (op == ReduceOp::kAvg && c10::isFloatingType(type)) {
          EXPECT_TRUE(at::allclose(t.to(c10::kDouble), expected.to(c10::kDouble), 1e-2, 1e-6))
              << c10::toString(type) << " avg";
        } else {
          EXPECT_TRUE(at::equal(t, expected))
              << c10::toString(type) << " " << collectives::ReduceOpName(op);
        }
      }
    }
  });
}

TEST(TensorCollectivesTest, BroadcastAllgatherReduceScatterPlaceEveryBlock) {
  constexpr int kRanks = 3;
  constexpr int64_t kCount = 10;
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    // Broadcast from the last rank.
    at::Tensor b = RankTensor(rank, kCount, c10::kFloat);
    ASSERT_TRUE(tc->Broadcast(b, kRanks - 1, TestOptions()).ok());
    EXPECT_TRUE(at::equal(b, RankTensor(kRanks - 1, kCount, c10::kFloat)));

    // Allgather into a 2-D output: row r is rank r's input.
    const at::Tensor input = RankTensor(rank, kCount, c10::kDouble);
    at::Tensor gathered = at::zeros({kRanks, kCount}, c10::kDouble);
    ASSERT_TRUE(tc->Allgather(input, gathered, TestOptions()).ok());
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_TRUE(at::equal(gathered[r], RankTensor(r, kCount, c10::kDouble))) << "row " << r;
    }

    // Reduce-scatter: rank r gets the sum of every rank's r-th slice; the input is untouched.
    const at::Tensor rs_input = RankTensor(rank, kRanks * kCount, c10::kInt);
    const at::Tensor rs_input_before = rs_input.clone();
    at::Tensor rs_output = at::zeros({kCount}, c10::kInt);
    ASSERT_TRUE(tc->ReduceScatter(rs_input, rs_output, ReduceOp::kSum, TestOptions()).ok());
    const at::Tensor full_sum = Reference(kRanks, kRanks * kCount, c10::kInt, ReduceOp::kSum);
    EXPECT_TRUE(at::equal(rs_output, full_sum.narrow(0, rank * kCount, kCount)));
    EXPECT_TRUE(at::equal(rs_input, rs_input_before));

    EXPECT_TRUE(tc->Barrier(TestOptions()).ok());
  });
}

// Alltoall through TensorCollectives (even, uneven, in place) and through the Communicator
// itself on host buffers: rank r's output block j is rank j's input block r, inputs untouched.
TEST(TensorCollectivesTest, AlltoallDeliversEachRanksBlockForEveryLayout) {
  constexpr int kRanks = 3;
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    // Even, 4 int64 per block: element k of rank r's block j is 100 r + 10 j + k.
    const at::Tensor input = at::arange(kRanks * 4, c10::kLong) % 4 +
                             at::arange(kRanks, c10::kLong).repeat_interleave(4) * 10 + 100 * rank;
    const at::Tensor before = input.clone();
    at::Tensor output = at::full({kRanks * 4}, -1, c10::kLong);
    ASSERT_TRUE(tc->Alltoall(input, output, {}, {}, TestOptions()).ok());
    for (int j = 0; j < kRanks; ++j) {
      EXPECT_TRUE(
          at::equal(output.narrow(0, 4 * j, 4), at::arange(4, c10::kLong) + 100 * j + 10 * rank))
          << "rank " << rank << " from " << j;
    }
    EXPECT_TRUE(at::equal(input, before));
    // In place: the input is copied before the output is written.
    at::Tensor in_place = input.clone();
    ASSERT_TRUE(tc->Alltoall(in_place, in_place, {}, {}, TestOptions()).ok());
    EXPECT_TRUE(at::equal(in_place, output));

    // Uneven: rank r sends r + j bfloat16 values of 10 r + j to rank j.
    std::vector<size_t> send, recv;
    std::vector<at::Tensor> parts;
    for (int j = 0; j < kRanks; ++j) {
      send.push_back(rank + j);
      recv.push_back(j + rank);
      parts.push_back(at::full({rank + j}, 10 * rank + j, c10::kBFloat16));
    }
    const at::Tensor uneven_in = at::cat(parts);
    at::Tensor uneven_out = at::full({3 * rank + 3}, -1, c10::kBFloat16);
    ASSERT_TRUE(tc->Alltoall(uneven_in, uneven_out, send, recv, TestOptions()).ok());
    int64_t offset = 0;
    for (int j = 0; j < kRanks; ++j) {
      EXPECT_TRUE(at::equal(uneven_out.narrow(0, offset, j + rank),
                            at::full({j + rank}, 10 * j + rank, c10::kBFloat16)))
          << "rank " << rank << " from " << j;
      offset += j + rank;
    }

    // The Communicator on host memory: even float64 blocks of 2.
    std::vector<double> host_in(kRanks * 2), host_out(kRanks * 2, -1);
    for (int j = 0; j < kRanks; ++j) host_in[2 * j] = host_in[2 * j + 1] = 10 * rank + j;
    ASSERT_TRUE(tc->communicator()
                    .Alltoall(host_in.data(), host_out.data(), 2, collectives::DataType::kFloat64,
                              TestOptions())
                    .ok());
    for (int j = 0; j < kRanks; ++j) {
      EXPECT_EQ(host_out[2 * j], 10 * j + rank);
      EXPECT_EQ(host_out[2 * j + 1], 10 * j + rank);
    }
    EXPECT_EQ(tc->communicator().last_stats().algorithm, "pairwise_alltoall");

    // Refused before anything is queued: sizes that do not add up, mixed dtypes.
    at::Tensor five = at::zeros({5}, c10::kFloat);
    EXPECT_EQ(tc->Alltoall(five, five.clone(), {}, {}, TestOptions()).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(tc->Alltoall(five, five.clone(), {1, 1, 1}, {1, 1, 3}, TestOptions()).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(
        tc->Alltoall(at::zeros({3}, c10::kInt), at::zeros({3}, c10::kFloat), {}, {}, TestOptions())
            .code(),
        absl::StatusCode::kInvalidArgument);
    // The communicator still works after the refusals.
    EXPECT_TRUE(tc->Barrier(TestOptions()).ok());
  });
}

TEST(TensorCollectivesTest, AsyncWorksCompleteInIssueOrderWithCorrectResults) {
  constexpr int kRanks = 2;
  constexpr int kWorks = 8;
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    std::vector<at::Tensor> tensors;
    std::vector<WorkHandle> works;
    for (int k = 0; k < kWorks; ++k) {
      // Different sizes, so a reordering on one rank would fail the size agreement.
      tensors.push_back(at::full({100 + k}, static_cast<double>(rank + k), c10::kFloat));
      auto work = tc->AllreduceAsync(tensors.back(), ReduceOp::kSum, TestOptions());
      ASSERT_TRUE(work.ok()) << work.status();
      works.push_back(*work);
    }
    for (int k = kWorks - 1; k >= 0; --k) {
      ASSERT_TRUE(works[k]->Wait(absl::Now() + absl::Seconds(30)).ok()) << works[k]->status();
      EXPECT_EQ(works[k]->contributors(), kRanks);
      // 0 + 1 + 2k.
      EXPECT_TRUE(at::equal(tensors[k], at::full({100 + k}, 1.0 + 2 * k, c10::kFloat)));
    }
  });
}

TEST(TensorCollectivesTest, WaitDeadlineDoesNotCancelTheCollective) {
  absl::Notification rank0_timed_out;
  RunJob(2, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    at::Tensor t = at::full({64}, static_cast<double>(rank + 1), c10::kLong);
    if (rank == 1) {
      // Rank 1 joins only after rank 0's wait has given up.
      rank0_timed_out.WaitForNotification();
    }
    auto work = tc->AllreduceAsync(t, ReduceOp::kSum, TestOptions());
    ASSERT_TRUE(work.ok());
    if (rank == 0) {
      const absl::Status early = (*work)->Wait(absl::Now() + absl::Milliseconds(100));
      EXPECT_EQ(early.code(), absl::StatusCode::kDeadlineExceeded) << early;
      EXPECT_FALSE((*work)->done());
      rank0_timed_out.Notify();
    }
    ASSERT_TRUE((*work)->Wait(absl::InfiniteFuture()).ok()) << (*work)->status();
    EXPECT_TRUE(at::equal(t, at::full({64}, 3, c10::kLong)));
  });
}

TEST(TensorCollectivesTest, CudaTensorsAreReducedInPlaceLikeCpuTensors) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device (or libtorch without CUDA)";
  constexpr int kRanks = 2;
  // 3 MiB of floats: larger than one staging segment of the device path would be for small
  // messages, odd so the blocks are unequal.
  constexpr int64_t kCount = 786433;
  const c10::Device gpu(c10::kCUDA, 0);
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    for (c10::ScalarType type : {c10::kFloat, c10::kBFloat16, c10::kLong}) {
      at::Tensor t = RankTensor(rank, kCount, type).to(gpu);
      const void* storage = t.data_ptr();
      ASSERT_TRUE(tc->Allreduce(t, ReduceOp::kSum, TestOptions()).ok()) << c10::toString(type);
      EXPECT_EQ(t.data_ptr(), storage);
      EXPECT_TRUE(t.is_cuda());
      EXPECT_TRUE(at::equal(t.cpu(), Reference(kRanks, kCount, type, ReduceOp::kSum)))
          << c10::toString(type);
    }
    at::Tensor b = RankTensor(rank, 1000, c10::kDouble).to(gpu);
    ASSERT_TRUE(tc->Broadcast(b, /*root=*/1, TestOptions()).ok());
    EXPECT_TRUE(at::equal(b.cpu(), RankTensor(1, 1000, c10::kDouble)));
  });
}

TEST(TensorCollectivesTest, BadTensorsAreRefusedBeforeAnythingIsQueued) {
  RunJob(1, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    // dtype
    at::Tensor flags = at::zeros({4}, c10::kBool);
    absl::Status status = tc->Allreduce(flags, ReduceOp::kSum);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("Bool"));
    auto work = tc->AllreduceAsync(at::zeros({4}, c10::kByte), ReduceOp::kMax);
    EXPECT_EQ(work.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(work.status().message()), HasSubstr("Byte"));

    // contiguity: a transpose is a view with swapped strides.
    at::Tensor transposed = at::zeros({3, 5}, c10::kFloat).t();
    status = tc->Allreduce(transposed, ReduceOp::kSum);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("not contiguous"));

    // sizes
    status = tc->Allgather(at::zeros({4}, c10::kFloat), at::zeros({5}, c10::kFloat));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("expected 4"));
    // An output of another dtype than the input, named with both dtypes, for every collective
    // that takes the two (one check: CheckCollectiveTensorPair).
    status = tc->Allgather(at::zeros({4}, c10::kFloat), at::zeros({4}, c10::kDouble));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("allgather output has dtype Double, input has Float"));
    status =
        tc->ReduceScatter(at::zeros({4}, c10::kFloat), at::zeros({4}, c10::kInt), ReduceOp::kSum);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("reduce_scatter output has dtype Int, input has Float"));
    status = tc->Alltoall(at::zeros({4}, c10::kLong), at::zeros({4}, c10::kFloat));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("alltoall output has dtype Float, input has Long"));
    status = tc->Broadcast(at::zeros({4}, c10::kFloat), /*root=*/3);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);

    // Nothing was queued: a good collective still runs.
    at::Tensor good = at::full({4}, 2.0, c10::kFloat);
    EXPECT_TRUE(tc->Allreduce(good, ReduceOp::kSum, TestOptions()).ok());
    EXPECT_TRUE(at::equal(good, at::full({4}, 2.0, c10::kFloat)));
  });
}

}  // namespace
}  // namespace crosslink::torch
