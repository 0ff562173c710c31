// ProcessGroupCrosslink used through c10d's own API (the virtual methods of c10d::ProcessGroup,
// c10d::Work::wait, getFuture), every rank in this process (torch_test_job.h). The properties:
// each supported collective gives c10d's documented result; unsupported ops and bad arguments
// throw at the call with kInvalidArgument; a collective that fails on the wire throws from wait().
#include "crosslink/torch/process_group_crosslink.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include <functional>
#include <vector>

#include "absl/time/clock.h"
#include "crosslink/torch/collective_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch_test_job.h"

namespace crosslink::torch {
namespace {

using ::testing::HasSubstr;
using testing::RunJob;

constexpr int kRanks = 3;

c10::intrusive_ptr<ProcessGroupCrosslink> MakeGroup(std::shared_ptr<TensorCollectives> tc) {
  return c10::make_intrusive<ProcessGroupCrosslink>(std::move(tc), absl::Seconds(30));
}

at::Tensor Filled(int64_t count, double value, c10::ScalarType type = c10::kFloat) {
  return at::full({count}, value, at::TensorOptions().dtype(type));
}

TEST(ProcessGroupCrosslinkTest, AllreduceThroughC10dMatchesEveryOp) {
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);
    EXPECT_EQ(pg->getRank(), rank);
    EXPECT_EQ(pg->getSize(), kRanks);
    EXPECT_EQ(pg->getBackendName(), "crosslink");
    const std::vector<std::pair<::c10d::ReduceOp::RedOpType, double>> cases = {
        {::c10d::ReduceOp::SUM, 1 + 2 + 3},
        {::c10d::ReduceOp::AVG, 2},
        {::c10d::ReduceOp::MIN, 1},
        {::c10d::ReduceOp::MAX, 3}};
    for (const auto& [op, expected] : cases) {
      std::vector<at::Tensor> tensors = {Filled(1000, rank + 1)};
      ::c10d::AllreduceOptions opts;
      opts.reduceOp = op;
      c10::intrusive_ptr<::c10d::Work> work = pg->allreduce(tensors, opts);
      EXPECT_TRUE(work->wait());
      EXPECT_TRUE(work->isCompleted());
      EXPECT_TRUE(work->isSuccess());
      EXPECT_TRUE(at::equal(tensors[0], Filled(1000, expected))) << "op " << int(op);
      // The future completes with the reduced tensor itself (what DDP comm hooks chain on).
      auto future = work->getFuture();
      future->wait();
      ASSERT_TRUE(future->completed());
      EXPECT_TRUE(future->value().toTensorVector()[0].is_same(tensors[0]));
    }
  });
}

TEST(ProcessGroupCrosslinkTest, BroadcastAllgatherReduceScatterBarrierThroughC10d) {
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);

    std::vector<at::Tensor> b = {Filled(17, rank * 10.0, c10::kDouble)};
    ::c10d::BroadcastOptions bopts;
    bopts.rootRank = 1;
    pg->broadcast(b, bopts)->wait();
    EXPECT_TRUE(at::equal(b[0], Filled(17, 10.0, c10::kDouble)));

    // List allgather: output_tensors[0][r] is rank r's input.
    std::vector<at::Tensor> input = {Filled(5, rank + 0.5)};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < kRanks; ++r) outputs[0].push_back(at::zeros({5}, c10::kFloat));
    pg->allgather(outputs, input)->wait();
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_TRUE(at::equal(outputs[0][r], Filled(5, r + 0.5))) << "block " << r;
    }

    // Flat allgather.
    at::Tensor flat_in = Filled(4, rank, c10::kLong);
    at::Tensor flat_out = at::zeros({kRanks * 4}, c10::kLong);
    pg->_allgather_base(flat_out, flat_in)->wait();
    for (int r = 0; r < kRanks; ++r)
      EXPECT_TRUE(at::equal(flat_out.narrow(0, r * 4, 4), Filled(4, r, c10::kLong)));

    // List reduce_scatter: rank r gets the sum over ranks of input_tensors[0][r].
    std::vector<std::vector<at::Tensor>> rs_inputs(1);
    for (int r = 0; r < kRanks; ++r) rs_inputs[0].push_back(Filled(6, 100 * r + rank));
    std::vector<at::Tensor> rs_output = {at::zeros({6}, c10::kFloat)};
    pg->reduce_scatter(rs_output, rs_inputs)->wait();
    EXPECT_TRUE(at::equal(rs_output[0], Filled(6, 3 * 100 * rank + (0 + 1 + 2))));

    // Flat reduce_scatter with MAX.
    at::Tensor rsb_in = at::arange(kRanks * 3, c10::kInt) + rank;
    at::Tensor rsb_out = at::zeros({3}, c10::kInt);
    ::c10d::ReduceScatterOptions rsopts;
    rsopts.reduceOp = ::c10d::ReduceOp::MAX;
    pg->_reduce_scatter_base(rsb_out, rsb_in, rsopts)->wait();
    EXPECT_TRUE(at::equal(rsb_out, at::arange(rank * 3, rank * 3 + 3, c10::kInt) + (kRanks - 1)));

    EXPECT_TRUE(pg->barrier()->wait());
  });
}

// all_to_all_single (alltoall_base) even and with split sizes along dimension 0, and all_to_all
// (alltoall, a list of any sizes): rank r's output block j is rank j's input block r.
TEST(ProcessGroupCrosslinkTest, AlltoallBaseAndListGiveEachRankItsBlocks) {
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);
    // Even, 2 rows of 3 per block: element (j, k) of rank r's input is 1000 r + 100 j + k.
    at::Tensor input = (at::arange(kRanks * 6, c10::kDouble) % 6 +
                        at::arange(kRanks, c10::kDouble).repeat_interleave(6) * 100 + 1000 * rank)
                           .view({kRanks * 2, 3});
    at::Tensor output = at::zeros({kRanks * 2, 3}, c10::kDouble);
    std::vector<int64_t> none;
    pg->alltoall_base(output, input, none, none)->wait();
    for (int j = 0; j < kRanks; ++j) {
      at::Tensor want = (at::arange(6, c10::kDouble) + 1000 * j + 100 * rank).view({2, 3});
      EXPECT_TRUE(at::equal(output.narrow(0, 2 * j, 2), want)) << "rank " << rank << " from " << j;
    }
    // Uneven: rank r sends (r + j) % 3 rows of 2 to rank j, filled with 10 r + j.
    std::vector<int64_t> in_splits, out_splits;
    std::vector<at::Tensor> in_parts;
    for (int j = 0; j < kRanks; ++j) {
      in_splits.push_back((rank + j) % 3);
      out_splits.push_back((j + rank) % 3);
      in_parts.push_back(at::full({in_splits.back(), 2}, 10 * rank + j, c10::kInt));
    }
    at::Tensor uneven_in = at::cat(in_parts);
    int64_t rows = 0;
    for (int64_t s : out_splits) rows += s;
    at::Tensor uneven_out = at::full({rows, 2}, -1, c10::kInt);
    pg->alltoall_base(uneven_out, uneven_in, out_splits, in_splits)->wait();
    int64_t row = 0;
    for (int j = 0; j < kRanks; ++j) {
      EXPECT_TRUE(at::equal(uneven_out.narrow(0, row, out_splits[j]),
                            at::full({out_splits[j], 2}, 10 * j + rank, c10::kInt)))
          << "rank " << rank << " from " << j;
      row += out_splits[j];
    }
    // The list form: rank r sends j + 1 values of 100 r + j to rank j.
    std::vector<at::Tensor> ins, outs;
    for (int j = 0; j < kRanks; ++j) {
      ins.push_back(Filled(j + 1, 100 * rank + j, c10::kFloat));
      outs.push_back(at::zeros({rank + 1}, c10::kFloat));
    }
    c10::intrusive_ptr<::c10d::Work> work = pg->alltoall(outs, ins);
    work->wait();
    for (int j = 0; j < kRanks; ++j) {
      EXPECT_TRUE(at::equal(outs[j], Filled(rank + 1, 100 * j + rank, c10::kFloat)))
          << "rank " << rank << " from " << j;
    }
    EXPECT_EQ(work->getFuture()->value().toTensorVector().size(), static_cast<size_t>(kRanks));
  });
}

// Split sizes that disagree between ranks fail the wait() of the rank that sees it with
// kInvalidArgument well before the 30 s timeout; bad arguments throw at the call, and the group
// still works after them.
TEST(ProcessGroupCrosslinkTest, AlltoallSplitsThatDisagreeFailInsteadOfHanging) {
  RunJob(2, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);
    at::Tensor input = Filled(6, rank);
    // Rank 1 expects 4 elements from rank 0, which sends it 3.
    std::vector<int64_t> in_splits = {3, 3};
    std::vector<int64_t> out_splits =
        rank == 0 ? std::vector<int64_t>{3, 3} : std::vector<int64_t>{4, 3};
    at::Tensor output = at::zeros({out_splits[0] + out_splits[1]}, c10::kFloat);
    const absl::Time start = absl::Now();
    c10::intrusive_ptr<::c10d::Work> work = pg->alltoall_base(output, input, out_splits, in_splits);
    // Rank 1 sees the short frame; rank 0's own exchanges all matched, so it may finish before
    // rank 1's abort reaches it (its next collective then fails: the disagreement broke rank 1).
    try {
      work->wait();
      EXPECT_EQ(rank, 0) << "mismatched alltoall succeeded on rank " << rank;
    } catch (const CollectiveError& e) {
      if (rank == 1) {
        EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument) << e.what();
        EXPECT_THAT(e.what(), HasSubstr("rank 0"));
      } else {
        EXPECT_TRUE(e.code() == absl::StatusCode::kInvalidArgument ||
                    e.code() == absl::StatusCode::kAborted ||
                    e.code() == absl::StatusCode::kUnavailable)
            << e.what();
      }
    }
    EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  });
  RunJob(2, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);
    auto expect_invalid = [&](const std::function<void()>& call, const char* needle) {
      try {
        call();
        ADD_FAILURE() << "accepted: " << needle;
      } catch (const CollectiveError& e) {
        EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr(needle));
      }
    };
    at::Tensor odd = Filled(5, 1);
    at::Tensor out5 = Filled(5, 0);
    std::vector<int64_t> none, three = {1, 1, 3}, short_sum = {1, 1};
    expect_invalid([&] { pg->alltoall_base(out5, odd, none, none); }, "does not divide");
    expect_invalid([&] { pg->alltoall_base(out5, odd, three, three); }, "split sizes");
    expect_invalid([&] { pg->alltoall_base(out5, odd, short_sum, short_sum); }, "add up to 2");
    at::Tensor ints = at::zeros({4}, c10::kInt);
    at::Tensor floats = Filled(4, 0);
    expect_invalid([&] { pg->alltoall_base(ints, floats, none, none); }, "dtype");
    std::vector<at::Tensor> one = {Filled(2, 0)}, two = {Filled(2, 0), Filled(2, 0)};
    expect_invalid([&] { pg->alltoall(two, one); }, "alltoall input list");
    // Both ranks refused every call above before anything went on the wire: the group works.
    at::Tensor in = Filled(4, rank), out = Filled(4, -1);
    pg->alltoall_base(out, in, none, none)->wait();
    EXPECT_TRUE(at::equal(out, at::cat({Filled(2, 0), Filled(2, 1)})));
  });
}

TEST(ProcessGroupCrosslinkTest, UnsupportedOpsAndBadTensorsThrowAtTheCall) {
  RunJob(1, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);
    std::vector<at::Tensor> tensors = {Filled(4, 1)};
    ::c10d::AllreduceOptions product;
    product.reduceOp = ::c10d::ReduceOp::PRODUCT;
    try {
      pg->allreduce(tensors, product);
      ADD_FAILURE() << "PRODUCT was accepted";
    } catch (const CollectiveError& e) {
      EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(e.what(), HasSubstr("PRODUCT"));
    }
    std::vector<at::Tensor> two = {Filled(4, 1), Filled(4, 1)};
    EXPECT_THROW(pg->allreduce(two), CollectiveError);
    std::vector<at::Tensor> flags = {at::zeros({4}, c10::kBool)};
    try {
      pg->allreduce(flags);
      ADD_FAILURE() << "a Bool tensor was accepted";
    } catch (const CollectiveError& e) {
      EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(e.what(), HasSubstr("Bool"));
    }
    std::vector<at::Tensor> strided = {at::zeros({4, 4}, c10::kFloat).t()};
    EXPECT_THROW(pg->broadcast(strided), CollectiveError);
    // Operations Crosslink does not offer keep c10d's own error.
    EXPECT_THROW(pg->send(tensors, 0, 0), c10::Error);
  });
}

TEST(ProcessGroupCrosslinkTest, CollectiveFailureIsRethrownByWait) {
  RunJob(2, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    c10::intrusive_ptr<ProcessGroupCrosslink::Base> pg = MakeGroup(tc);
    // The ranks disagree on the count: the collective fails on the wire, not at the call.
    std::vector<at::Tensor> tensors = {Filled(rank == 0 ? 64 : 80, 1)};
    c10::intrusive_ptr<::c10d::Work> work = pg->allreduce(tensors);
    try {
      work->wait();
      ADD_FAILURE() << "mismatched allreduce succeeded on rank " << rank;
    } catch (const CollectiveError& e) {
      EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument) << e.what();
    }
    EXPECT_TRUE(work->isCompleted());
    EXPECT_FALSE(work->isSuccess());
    EXPECT_TRUE(work->getFuture()->hasError());
  });
}

}  // namespace
}  // namespace crosslink::torch
