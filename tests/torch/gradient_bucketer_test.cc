// GradientBucketer on a small C++-frontend model, every rank in this process (torch_test_job.h).
// The properties: buckets follow reverse registration order within the byte cap; after
// FinishSync every parameter's .grad() equals the unbucketed reference (each gradient allreduced
// on its own and divided by the world size), for several steps; a parameter that got no gradient
// on some rank counts as zero there instead of hanging the job; a second backward before
// FinishSync is reported.
#include "crosslink/torch/gradient_bucketer.h"

#include <torch/torch.h>

#include <mutex>
#include <numeric>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "torch_test_job.h"

namespace crosslink::torch {
namespace {

using testing::RunJob;
using testing::TestOptions;

constexpr int kRanks = 3;

::torch::nn::Sequential MakeModel() {
  // Every rank builds the same weights: the seed and the draws happen under one lock, because
  // the ranks are threads sharing torch's global generator.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  ::torch::manual_seed(7);
  return ::torch::nn::Sequential(::torch::nn::Linear(6, 10), ::torch::nn::Tanh(),
                                 ::torch::nn::Linear(10, 10), ::torch::nn::Tanh(),
                                 ::torch::nn::Linear(10, 3));
}

// A rank- and step-dependent batch, the same for the bucketed and the reference model.
at::Tensor Batch(int rank, int step) {
  return ::torch::linspace(-1.0, 1.0, 8 * 6).view({8, 6}) * (rank + 1) + 0.1 * step;
}

void Backward(::torch::nn::Sequential& model, int rank, int step) {
  model->zero_grad();
  model->forward(Batch(rank, step)).pow(2).sum().backward();
}

TEST(GradientBucketerTest, BucketsFollowReverseRegistrationOrderWithinTheCap) {
  RunJob(1, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    auto model = MakeModel();
    const std::vector<at::Tensor> params = model->parameters();
    ASSERT_EQ(params.size(), 6u);  // 3 x (weight, bias)
    GradientBucketerOptions options;
    options.bucket_bytes = 256;  // 64 floats
    auto bucketer = GradientBucketer::Create(tc, params, options);
    ASSERT_TRUE(bucketer.ok()) << bucketer.status();
    const auto buckets = (*bucketer)->bucket_parameters();
    std::vector<size_t> order;
    for (const auto& bucket : buckets) {
      size_t bytes = 0;
      for (size_t p : bucket) bytes += params[p].numel() * params[p].element_size();
      // Over the cap only as a bucket of its own.
      EXPECT_TRUE(bytes <= options.bucket_bytes || bucket.size() == 1) << bytes;
      order.insert(order.end(), bucket.begin(), bucket.end());
    }
    EXPECT_EQ(order, (std::vector<size_t>{5, 4, 3, 2, 1, 0}));
    EXPECT_GT(buckets.size(), 2u);
  });
}

TEST(GradientBucketerTest, BucketedGradientsEqualThePerParameterAllreduce) {
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    auto bucketed = MakeModel();
    auto reference = MakeModel();
    GradientBucketerOptions options;
    options.bucket_bytes = 256;  // several buckets, some launched during backward
    options.collective = TestOptions();
    auto bucketer = GradientBucketer::Create(tc, bucketed->parameters(), options);
    ASSERT_TRUE(bucketer.ok()) << bucketer.status();
    for (int step = 0; step < 3; ++step) {
      Backward(bucketed, rank, step);
      // Every bucket filled during backward, so each was launched before backward returned
      // (overlapping communication with the rest of backward), in order.
      EXPECT_EQ((*bucketer)->buckets_launched(), (*bucketer)->bucket_parameters().size());
      ASSERT_TRUE((*bucketer)->FinishSync(absl::Now() + absl::Seconds(30)).ok());
      EXPECT_EQ((*bucketer)->last_contributors(), kRanks);

      Backward(reference, rank, step);
      for (at::Tensor& p : reference->parameters()) {
        ASSERT_TRUE(
            tc->Allreduce(p.mutable_grad(), collectives::ReduceOp::kSum, TestOptions()).ok());
        p.mutable_grad().div_(kRanks);
      }
      const auto got = bucketed->parameters();
      const auto want = reference->parameters();
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(::torch::allclose(got[i].grad(), want[i].grad(), 1e-6, 1e-7))
            << "step " << step << " parameter " << i << "\n"
            << got[i].grad() << "\n"
            << want[i].grad();
      }
      // Both models take the same step, so the next step's gradients differ from this one's.
      ::torch::NoGradGuard no_grad;
      for (size_t i = 0; i < got.size(); ++i) {
        got[i].sub_(0.1 * got[i].grad());
        want[i].sub_(0.1 * want[i].grad());
      }
    }
  });
}

TEST(GradientBucketerTest, ParameterWithoutGradientOnSomeRankCountsAsZero) {
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    at::Tensor used = ::torch::ones({4}, ::torch::requires_grad());
    at::Tensor sometimes = ::torch::ones({3}, ::torch::requires_grad());
    auto bucketer = GradientBucketer::Create(tc, {used, sometimes}, {});
    ASSERT_TRUE(bucketer.ok());
    at::Tensor loss = (used * (rank + 1)).sum();
    // Only rank 0 uses the second parameter.
    if (rank == 0) loss = loss + (sometimes * 6).sum();
    loss.backward();
    ASSERT_TRUE((*bucketer)->FinishSync(absl::Now() + absl::Seconds(30)).ok());
    EXPECT_TRUE(::torch::allclose(used.grad(), ::torch::full({4}, (1.0 + 2 + 3) / kRanks)));
    ASSERT_TRUE(sometimes.grad().defined());
    EXPECT_TRUE(::torch::allclose(sometimes.grad(), ::torch::full({3}, 6.0 / kRanks)));
  });
}

TEST(GradientBucketerTest, SecondBackwardBeforeFinishSyncIsReported) {
  RunJob(1, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    at::Tensor w = ::torch::ones({4}, ::torch::requires_grad());
    auto bucketer = GradientBucketer::Create(tc, {w}, {});
    ASSERT_TRUE(bucketer.ok());
    (w * 2).sum().backward();
    (w * 3).sum().backward();
    EXPECT_EQ((*bucketer)->FinishSync(absl::Now() + absl::Seconds(30)).code(),
              absl::StatusCode::kFailedPrecondition);
    // The next, well-formed step works again.
    w.mutable_grad().zero_();
    (w * 5).sum().backward();
    ASSERT_TRUE((*bucketer)->FinishSync(absl::Now() + absl::Seconds(30)).ok());
    EXPECT_TRUE(::torch::allclose(w.grad(), ::torch::full({4}, 5.0)));
  });
}

TEST(GradientBucketerTest, CreateRefusesUnusableParameters) {
  RunJob(1, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    EXPECT_EQ(GradientBucketer::Create(tc, {::torch::ones({2})}, {}).status().code(),
              absl::StatusCode::kInvalidArgument);  // nothing requires grad
    GradientBucketerOptions zero_cap;
    zero_cap.bucket_bytes = 0;
    EXPECT_EQ(GradientBucketer::Create(tc, {::torch::ones({2}, ::torch::requires_grad())}, zero_cap)
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument);
  });
}

}  // namespace
}  // namespace crosslink::torch
