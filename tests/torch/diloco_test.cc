// DiLoCo on a tiny functional model, every rank in this process (torch_test_job.h). The
// properties: with H = 1, outer lr 1 and momentum 0 it is synchronous data-parallel SGD; with
// H > 1 and Nesterov momentum its global copy follows torch::optim::SGD(nesterov) fed with the
// averaged pseudo-gradients, and every rank holds bit-identical parameters after a sync; the
// bf16 wire stays within bf16 rounding of the fp32 result and halves the bytes; the byte counter
// shows the H-fold saving over per-step allreduce; bad options are refused; PlaceSync picks an
// in-window step on a hand-made contact plan.
#include "crosslink/torch/diloco.h"

#include <torch/torch.h>

#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gtest/gtest.h"
#include "torch_test_job.h"

namespace crosslink::torch {
namespace {

using testing::RunJob;

constexpr int kRanks = 3;
constexpr double kInnerLr = 0.1;

// Deterministic start (no RNG: the ranks are threads sharing torch's global generator).
std::vector<at::Tensor> InitialParams() {
  return {::torch::linspace(-0.5, 0.5, 20).view({5, 4}).requires_grad_(),
          ::torch::linspace(0.1, -0.1, 4).requires_grad_(),
          ::torch::linspace(-0.3, 0.4, 8).view({4, 2}).requires_grad_()};
}

// A rank- and step-dependent regression batch through tanh(x W1 + b1) W2.
at::Tensor Loss(const std::vector<at::Tensor>& p, int rank, int64_t step) {
  const at::Tensor x = ::torch::linspace(-1.0, 1.0, 6 * 5).view({6, 5}) * (rank + 1) + 0.05 * step;
  const at::Tensor target = ::torch::cos(x.narrow(1, 0, 2) * (rank + 1));
  const at::Tensor out = ::torch::tanh(x.mm(p[0]) + p[1]).mm(p[2]);
  return (out - target).pow(2).mean();
}

std::vector<at::Tensor> Clone(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

// Plain SGD steps by hand (the ranks use torch::optim::SGD): an independent reference.
void LocalSgd(std::vector<at::Tensor>& params, int rank, int64_t first_step, int64_t steps) {
  for (int64_t s = first_step; s < first_step + steps; ++s) {
    for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();
    Loss(params, rank, s).backward();
    ::torch::NoGradGuard no_grad;
    for (at::Tensor& p : params) p.sub_(p.grad(), kInnerLr);
  }
}

// Every rank trains `steps` inner steps with SGD under DiLoCo; returns each rank's parameters.
struct RankResult {
  std::vector<at::Tensor> params;
  DiLoCoStats stats;
  int64_t parameter_bytes = 0;
  std::vector<bool> synced;
};
std::vector<RankResult> Train(const DiLoCoOptions& options, int64_t steps) {
  std::vector<RankResult> results(kRanks);
  RunJob(kRanks, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    std::vector<at::Tensor> params = InitialParams();
    ::torch::optim::SGD inner(params, ::torch::optim::SGDOptions(kInnerLr));
    auto diloco = DiLoCo::Create(tc, params, options);
    ASSERT_TRUE(diloco.ok()) << diloco.status();
    for (int64_t step = 1; step <= steps; ++step) {
      inner.zero_grad();
      Loss(params, rank, step).backward();
      inner.step();
      absl::StatusOr<bool> synced = (*diloco)->AfterInnerStep(step);
      ASSERT_TRUE(synced.ok()) << "rank " << rank << " step " << step << ": " << synced.status();
      results[rank].synced.push_back(*synced);
    }
    results[rank].params = Clone(params);
    results[rank].stats = (*diloco)->stats();
    results[rank].parameter_bytes = (*diloco)->parameter_bytes();
  });
  return results;
}

void ExpectRanksIdentical(const std::vector<RankResult>& results) {
  for (int r = 1; r < kRanks; ++r) {
    for (size_t k = 0; k < results[0].params.size(); ++k) {
      EXPECT_TRUE(::torch::equal(results[r].params[k], results[0].params[k]))
          << "rank " << r << " parameter " << k;
    }
  }
}

TEST(DiLoCoTest, OneInnerStepWithPlainOuterSgdIsSynchronousDataParallel) {
  constexpr int64_t kSteps = 5;
  // Reference: per step, the gradient averaged over the ranks' batches, one SGD step.
  std::vector<at::Tensor> reference = Clone(InitialParams());
  for (int64_t step = 1; step <= kSteps; ++step) {
    for (at::Tensor& p : reference) p.mutable_grad() = at::Tensor();
    at::Tensor loss = Loss(reference, 0, step);
    for (int r = 1; r < kRanks; ++r) loss = loss + Loss(reference, r, step);
    (loss / kRanks).backward();
    ::torch::NoGradGuard no_grad;
    for (at::Tensor& p : reference) p.sub_(p.grad(), kInnerLr);
  }

  DiLoCoOptions options;
  options.inner_steps = 1;
  options.outer_lr = 1.0;
  options.outer_momentum = 0.0;
  options.sync_timeout = absl::Seconds(30);
  const std::vector<RankResult> results = Train(options, kSteps);
  ExpectRanksIdentical(results);
  for (int r = 0; r < kRanks; ++r) {
    ASSERT_EQ(results[r].params.size(), reference.size());
    for (size_t k = 0; k < reference.size(); ++k) {
      EXPECT_TRUE(::torch::allclose(results[r].params[k], reference[k], 1e-5, 1e-6))
          << "rank " << r << " parameter " << k << "\n"
          << results[r].params[k] << "\nvs\n"
          << reference[k];
    }
    EXPECT_EQ(results[r].stats.syncs, kSteps);
    EXPECT_EQ(results[r].stats.sync_steps, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  }
  // The parameters really moved (the comparison above is not between two unchanged copies).
  EXPECT_FALSE(::torch::allclose(reference[0], InitialParams()[0], 1e-3, 1e-3));
}

TEST(DiLoCoTest, OuterStepIsNesterovSgdOnAveragedPseudoGradients) {
  constexpr int64_t kH = 3;
  constexpr int64_t kRounds = 3;
  constexpr double kOuterLr = 0.7;
  constexpr double kMomentum = 0.9;
  // Reference: the global copy under torch's own Nesterov SGD, its .grad() the average over the
  // ranks of (global - local after H local SGD steps).
  std::vector<at::Tensor> global = Clone(InitialParams());
  ::torch::optim::SGD outer(
      global, ::torch::optim::SGDOptions(kOuterLr).momentum(kMomentum).nesterov(true));
  for (int64_t round = 0; round < kRounds; ++round) {
    std::vector<at::Tensor> pseudo;
    for (const at::Tensor& g : global) pseudo.push_back(::torch::zeros_like(g));
    for (int r = 0; r < kRanks; ++r) {
      std::vector<at::Tensor> local = Clone(global);
      LocalSgd(local, r, round * kH + 1, kH);
      for (size_t k = 0; k < global.size(); ++k) {
        pseudo[k] += (global[k].detach() - local[k].detach()) / kRanks;
      }
    }
    for (size_t k = 0; k < global.size(); ++k) global[k].mutable_grad() = pseudo[k];
    outer.step();
  }

  DiLoCoOptions options;
  options.inner_steps = kH;
  options.outer_lr = kOuterLr;
  options.outer_momentum = kMomentum;
  options.sync_timeout = absl::Seconds(30);
  const std::vector<RankResult> results = Train(options, kH * kRounds);
  ExpectRanksIdentical(results);
  for (size_t k = 0; k < global.size(); ++k) {
    EXPECT_TRUE(::torch::allclose(results[0].params[k], global[k].detach(), 1e-5, 1e-6))
        << "parameter " << k << "\n"
        << results[0].params[k] << "\nvs\n"
        << global[k];
  }
  // Syncs after steps H, 2H, 3H only.
  const std::vector<bool> expected_synced = {false, false, true,  false, false,
                                             true,  false, false, true};
  EXPECT_EQ(results[0].synced, expected_synced);
  // Bytes: one fp32 copy of the parameters per sync; per-step allreduce would send H times more.
  const RankResult& r0 = results[0];
  EXPECT_EQ(r0.stats.allreduce_payload_bytes, kRounds * r0.parameter_bytes);
  EXPECT_EQ(kH * kRounds * r0.parameter_bytes / r0.stats.allreduce_payload_bytes, kH);
  EXPECT_EQ(r0.stats.estimated_sent_bytes,
            kRounds * (r0.parameter_bytes * 2 * (kRanks - 1) / kRanks));
}

TEST(DiLoCoTest, Bf16WireStaysWithinBf16RoundingAndHalvesTheBytes) {
  constexpr int64_t kH = 2;
  constexpr int64_t kSteps = 6;
  DiLoCoOptions options;
  options.inner_steps = kH;
  options.outer_lr = 0.7;
  options.outer_momentum = 0.9;
  options.sync_timeout = absl::Seconds(30);
  const std::vector<RankResult> fp32 = Train(options, kSteps);
  options.wire_dtype = DiLoCoWireDtype::kBFloat16;
  const std::vector<RankResult> bf16 = Train(options, kSteps);
  ExpectRanksIdentical(bf16);
  const std::vector<at::Tensor> initial = InitialParams();
  for (size_t k = 0; k < initial.size(); ++k) {
    // bf16 keeps 8 significant bits, so each sync's averaged pseudo-gradient is off by a few
    // 2^-8 of its size; three syncs deep (momentum included) that stays a few per cent of the
    // parameters' total movement.
    const double moved = (fp32[0].params[k] - initial[k].detach()).abs().max().item<double>();
    const double error = (bf16[0].params[k] - fp32[0].params[k]).abs().max().item<double>();
    ASSERT_GT(moved, 0.0);
    EXPECT_LE(error, 0.05 * moved) << "parameter " << k << " moved " << moved;
  }
  EXPECT_EQ(bf16[0].stats.allreduce_payload_bytes * 2, fp32[0].stats.allreduce_payload_bytes);
  EXPECT_EQ(bf16[0].stats.syncs, kSteps / kH);
}

TEST(DiLoCoTest, RefusesBadOptionsAndOutOfOrderSteps) {
  RunJob(1, [&](int rank, std::shared_ptr<TensorCollectives> tc) {
    const std::vector<at::Tensor> params = InitialParams();
    DiLoCoOptions options;
    options.inner_steps = 0;
    EXPECT_EQ(DiLoCo::Create(tc, params, options).status().code(),
              absl::StatusCode::kInvalidArgument);
    options.inner_steps = 10;
    options.max_shift_steps = 5;  // windows [5, 15] and [15, 25] would overlap
    EXPECT_EQ(DiLoCo::Create(tc, params, options).status().code(),
              absl::StatusCode::kInvalidArgument);
    options.max_shift_steps = 4;
    options.outer_momentum = 1.0;
    EXPECT_EQ(DiLoCo::Create(tc, params, options).status().code(),
              absl::StatusCode::kInvalidArgument);
    options.outer_momentum = 0.9;
    EXPECT_EQ(DiLoCo::Create(tc, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DiLoCo::Create(tc, {::torch::arange(4)}, options).status().code(),
              absl::StatusCode::kInvalidArgument);  // integer "parameter"
    auto diloco = DiLoCo::Create(tc, params, options);
    ASSERT_TRUE(diloco.ok()) << diloco.status();
    ASSERT_TRUE((*diloco)->AfterInnerStep(1).ok());
    EXPECT_EQ((*diloco)->AfterInnerStep(3).status().code(), absl::StatusCode::kInvalidArgument);
  });
}

// Two ranks in a job that plays a scenario (links up by geometry throughout: the formation of
// tests/runtime/data/cut-link.toml without its faults), so that the placement decision runs:
// rank 0 places every sync and broadcasts it, and both ranks sync at the same steps.
constexpr char kFormationScenario[] = R"toml(
[time]
start_utc = "2025-01-23T00:00:00Z"
duration_s = 3600
step_s = 10
time_scale = 20

[constellation]
type = "formation"

[[constellation.cluster]]
count = 8
radius_km = 2598.0762
altitude_km = 3000

[links]
topology = "in-range"
terminals = 6
max_range_km = 1600
rate_bps = 1e9
rate_reference_range_km = 0

[cluster]
satellites = ["C0S0", "C0S3"]
)toml";

TEST(DiLoCoTest, PlacementInAScenarioJobKeepsEveryRankInStep) {
  constexpr int kScenarioRanks = 2;
  runtime::CoordinatorOptions coordinator_options;
  coordinator_options.world_size = kScenarioRanks;
  coordinator_options.job_token = "diloco-test-token";
  coordinator_options.job_id = "diloco-scenario-test";
  coordinator_options.scenario_text = kFormationScenario;
  coordinator_options.rendezvous_timeout = absl::Seconds(60);
  auto server = runtime::CoordinatorServer::Start(coordinator_options);
  ASSERT_TRUE(server.ok()) << server.status();

  constexpr int64_t kH = 4;
  constexpr int64_t kSteps = 3 * kH;
  std::vector<RankResult> results(kScenarioRanks);
  std::vector<std::shared_ptr<TensorCollectives>> collectives(kScenarioRanks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kScenarioRanks; ++rank) {
    threads.emplace_back([&, rank] {
      runtime::CommunicatorOptions options;
      options.rank = rank;
      options.world_size = kScenarioRanks;
      options.coordinator_address = (*server)->address();
      options.job_token = coordinator_options.job_token;
      options.setup_timeout = absl::Seconds(60);
      auto communicator = runtime::Communicator::Create(options);
      ASSERT_TRUE(communicator.ok()) << "rank " << rank << ": " << communicator.status();
      ASSERT_NE((*communicator)->predicted_plan(), nullptr);
      collectives[rank] = std::make_shared<TensorCollectives>(
          std::shared_ptr<runtime::Communicator>(std::move(*communicator)));
      std::vector<at::Tensor> params = InitialParams();
      ::torch::optim::SGD inner(params, ::torch::optim::SGDOptions(kInnerLr));
      DiLoCoOptions diloco_options;
      diloco_options.inner_steps = kH;
      diloco_options.max_shift_steps = 1;
      diloco_options.sync_timeout = absl::Seconds(30);
      auto diloco = DiLoCo::Create(collectives[rank], params, diloco_options);
      ASSERT_TRUE(diloco.ok()) << diloco.status();
      for (int64_t step = 1; step <= kSteps; ++step) {
        inner.zero_grad();
        Loss(params, rank, step).backward();
        inner.step();
        absl::StatusOr<bool> synced = (*diloco)->AfterInnerStep(step);
        ASSERT_TRUE(synced.ok()) << "rank " << rank << " step " << step << ": " << synced.status();
      }
      results[rank].params = Clone(params);
      results[rank].stats = (*diloco)->stats();
    });
  }
  for (std::thread& thread : threads) thread.join();
  collectives.clear();
  (*server)->Stop();

  // The links never go down, so every sync stays at its nominal step and is in a window.
  for (int r = 0; r < kScenarioRanks; ++r) {
    EXPECT_EQ(results[r].stats.sync_steps, (std::vector<int64_t>{4, 8, 12})) << "rank " << r;
    EXPECT_EQ(results[r].stats.syncs_in_window, 3) << "rank " << r;
    EXPECT_EQ(results[r].stats.syncs_moved, 0) << "rank " << r;
  }
  ASSERT_EQ(results[1].params.size(), results[0].params.size());
  for (size_t k = 0; k < results[0].params.size(); ++k) {
    EXPECT_TRUE(::torch::equal(results[1].params[k], results[0].params[k])) << "parameter " << k;
  }
}

// Satellites 0..3. Links: 0-1 always up; 1-2 occluded [20, 50); 0-2 always up; 1-3 up [0, 30),
// out of range after. 0-3 is no candidate link (reachable only through 1).
linkmodel::ContactPlan PlacementPlan() {
  using S = linkmodel::LinkState;
  std::vector<linkmodel::Link> links(4);
  links[0] = {0, 1, false, {{0, 100, S::kUp}}, std::vector<float>(11, 1000.0f)};
  links[1] = {1,
              2,
              false,
              {{0, 20, S::kUp}, {20, 50, S::kOccluded}, {50, 100, S::kUp}},
              std::vector<float>(11, 1000.0f)};
  links[2] = {0, 2, true, {{0, 100, S::kUp}}, std::vector<float>(11, 1000.0f)};
  links[3] = {
      1, 3, false, {{0, 30, S::kUp}, {30, 100, S::kRange}}, std::vector<float>(11, 1000.0f)};
  linkmodel::LinkPhysics physics;
  return linkmodel::ContactPlan({"s0", "s1", "s2", "s3"}, absl::FromUnixSeconds(1737590400), 100.0,
                                10.0, physics, /*includes_faults=*/false, std::move(links));
}

TEST(PlaceSyncTest, KeepsTheNominalStepWhenTheRingIsUp) {
  const linkmodel::ContactPlan plan = PlacementPlan();
  const std::vector<int> sats = {0, 1, 2};
  const std::vector<double> t = {0, 5, 10, 15};
  const SyncPlacement p = PlaceSync(plan, sats, t, 2, 0.0);
  EXPECT_EQ(p.index, 2);
  EXPECT_TRUE(p.ring_up);
}

TEST(PlaceSyncTest, MovesToTheInWindowCandidateNearestTheNominal) {
  const linkmodel::ContactPlan plan = PlacementPlan();
  const std::vector<int> sats = {0, 1, 2};
  // Nominal at t = 40 (index 3), inside 1-2's outage; up at 10 (3 away) and 50 (1 away).
  const std::vector<double> t = {10, 20, 30, 40, 50, 60, 70};
  const SyncPlacement p = PlaceSync(plan, sats, t, 3, 0.0);
  EXPECT_EQ(p.index, 4);
  EXPECT_TRUE(p.ring_up);
  EXPECT_EQ(p.hops_down, 0);
  // Equally far either side: the earlier one.
  const std::vector<double> tie = {15, 30, 55};
  EXPECT_EQ(PlaceSync(plan, sats, tie, 1, 0.0).index, 0);
}

TEST(PlaceSyncTest, RequiresTheRingToStayUpForTheSyncDuration) {
  const linkmodel::ContactPlan plan = PlacementPlan();
  const std::vector<int> sats = {0, 1, 2};
  // At t = 10 link 1-2 has 10 s left: enough for a 5 s sync, not for a 15 s one.
  const std::vector<double> t = {10, 30, 50};
  EXPECT_EQ(PlaceSync(plan, sats, t, 1, 5.0).index, 0);
  EXPECT_EQ(PlaceSync(plan, sats, t, 1, 15.0).index, 2);
}

TEST(PlaceSyncTest, WithoutAnyWindowKeepsTheNominalAndSaysSo) {
  const linkmodel::ContactPlan plan = PlacementPlan();
  const std::vector<int> sats = {0, 1, 2};
  const std::vector<double> t = {25, 30, 35, 40};
  const SyncPlacement p = PlaceSync(plan, sats, t, 2, 0.0);
  EXPECT_EQ(p.index, 2);
  EXPECT_FALSE(p.ring_up);
  EXPECT_EQ(p.hops_down, 1);
}

TEST(PlaceSyncTest, RoutedPairsAndSharedSatellites) {
  const linkmodel::ContactPlan plan = PlacementPlan();
  // Two ranks on 0 and 3: no direct link, routed 0-1-3 while 1-3 is up [0, 30).
  const std::vector<int> routed = {0, 3};
  const std::vector<double> t = {35, 40, 25};
  const SyncPlacement p = PlaceSync(plan, routed, t, 0, 0.0);
  EXPECT_EQ(p.index, 2);
  EXPECT_TRUE(p.ring_up);
  // Two ranks on one satellite are never cut off.
  const std::vector<int> shared = {3, 3};
  EXPECT_TRUE(PlaceSync(plan, shared, t, 0, 0.0).ring_up);
}

}  // namespace
}  // namespace crosslink::torch
