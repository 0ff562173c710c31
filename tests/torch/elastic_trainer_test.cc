// ElasticTrainer with the torch glue across a rank's death, in one process (torch_test_job.h): a
// three-rank elastic job whose rank 2 dies after it joined step 1's quorum, without taking part
// in the step's collectives. The survivors' step 1 must fail with kAborted and be dropped on both
// (nothing applied), and from step 2 on the collectives run among the two survivors: the
// GradientBucketer's average and ProcessGroupCrosslink's AVG divide by the live count, the trainer
// reports the new membership, and both survivors end with identical parameters.
#include "crosslink/torch/elastic_trainer.h"

#include <torch/torch.h>

#include <vector>

#include "absl/time/clock.h"
#include "crosslink/torch/collective_error.h"
#include "crosslink/torch/elastic_state.h"
#include "crosslink/torch/gradient_bucketer.h"
#include "crosslink/torch/process_group_crosslink.h"
#include "gtest/gtest.h"
#include "torch_test_job.h"

namespace crosslink::torch {
namespace {

constexpr int kWorld = 3;
constexpr int kVictim = 2;
constexpr int kDeathStep = 1;
constexpr int kSteps = 4;

TEST(ElasticTrainerTest, SurvivorsDropTheStepADeathHitAndThenAverageOverTheLiveRanks) {
  testing::RunElasticJob(kWorld, [](int rank, std::shared_ptr<TensorCollectives> collectives,
                                    runtime::CoordinatorServer& server) {
    // The "model": one parameter whose gradient is rank + 1, so the average over ranks R is the
    // mean of r + 1 over R.
    at::Tensor weight = ::torch::zeros({4}, ::torch::requires_grad());
    GradientBucketerOptions bucket_options;
    bucket_options.collective = testing::TestOptions();
    auto bucketer = GradientBucketer::Create(collectives, {weight}, bucket_options);
    ASSERT_TRUE(bucketer.ok()) << bucketer.status();
    auto group = c10::make_intrusive<ProcessGroupCrosslink>(collectives, absl::Seconds(30));
    int64_t step = 0;
    ElasticState state;
    ASSERT_TRUE(state.AddTensor("weight", weight).ok());
    state.AddCounter("step", &step);
    ElasticTrainerOptions options;
    options.timeout = absl::Seconds(30);
    ElasticTrainer trainer(collectives, &state, options);

    std::vector<ElasticStepResult> results;
    for (; step < kSteps; ++step) {
      if (rank == kVictim && step == kDeathStep) {
        // Joins the step's quorum, then dies before the step's collectives, as a process killed
        // mid-step: crosslink-run would report it to the coordinator at once.
        ASSERT_TRUE(collectives->communicator().Quorum(absl::Now() + absl::Seconds(30)).ok());
        ASSERT_TRUE(server.ReportFailure(kVictim, "killed by the test").ok());
        return;
      }
      float group_average = 0;
      auto result = trainer.Step(
          [&]() -> absl::Status {
            ::torch::mul(weight, static_cast<float>(rank + 1)).sum().backward();
            if (absl::Status s = (*bucketer)->FinishSync(absl::Now() + absl::Seconds(30)); !s.ok())
              return s;
            // The c10d backend's AVG over the same ranks.
            std::vector<at::Tensor> tensors = {::torch::full({1}, rank + 1.0f)};
            ::c10d::AllreduceOptions average;
            average.reduceOp = ::c10d::ReduceOp::AVG;
            auto work = group->allreduce(tensors, average);
            try {
              work->wait();
            } catch (const CollectiveError& e) {
              return e.status();
            }
            group_average = tensors[0].item<float>();
            return absl::OkStatus();
          },
          [&] {
            ::torch::NoGradGuard no_grad;
            weight.sub_(weight.grad());
          });
      ASSERT_TRUE(result.ok()) << "rank " << rank << " step " << step << ": " << result.status();
      weight.mutable_grad().zero_();
      if (result->committed) {
        // Both averages are over the quorum's live ranks.
        float expected = 0;
        for (int r : result->live_ranks) expected += static_cast<float>(r + 1);
        expected /= static_cast<float>(result->live_ranks.size());
        EXPECT_FLOAT_EQ(group_average, expected) << "rank " << rank << " step " << step;
        EXPECT_EQ((*bucketer)->last_contributors(), static_cast<int>(result->live_ranks.size()));
      }
      results.push_back(*result);
    }

    // Step 0 with everyone; step 1 met the death: dropped, kAborted; then two live ranks.
    ASSERT_EQ(results.size(), static_cast<size_t>(kSteps));
    EXPECT_TRUE(results[0].committed);
    EXPECT_EQ(results[0].live_ranks, (std::vector<int>{0, 1, 2}));
    EXPECT_FALSE(results[kDeathStep].committed);
    EXPECT_EQ(results[kDeathStep].step_status.code(), absl::StatusCode::kAborted)
        << results[kDeathStep].step_status;
    for (int s = kDeathStep + 1; s < kSteps; ++s) {
      EXPECT_TRUE(results[s].committed) << "step " << s << ": " << results[s].step_status;
      EXPECT_EQ(results[s].live_ranks, (std::vector<int>{0, 1})) << "step " << s;
      EXPECT_TRUE(results[s].synced || s > kDeathStep + 1);  // the new epoch's first step syncs
    }
    EXPECT_EQ(trainer.membership_changes(), 1);
    EXPECT_EQ(trainer.dropped_steps(), 1);
    // Applied: step 0 (mean 2 over three ranks), steps 2 and 3 (mean 1.5 over ranks 0 and 1).
    EXPECT_TRUE(weight.detach().equal(::torch::full({4}, -(2.0f + 1.5f + 1.5f)))) << weight;
  });
}

}  // namespace
}  // namespace crosslink::torch
