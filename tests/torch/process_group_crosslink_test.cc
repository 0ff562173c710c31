// ProcessGroupCrosslink used through c10d's own API (the virtual methods of c10d::ProcessGroup,
// c10d::Work::wait, getFuture), every rank in this process (torch_test_job.h). The properties:
// each supported collective gives c10d's documented result; unsupported ops and bad arguments
// throw at the call with kInvalidArgument; a collective that fails on the wire throws from wait().
#include "crosslink/torch/process_group_crosslink.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include <vector>

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
