#include "crosslink/collectives/simulator.h"

#include <vector>

#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/linkmodel/link_geometry.h"
#include "gtest/gtest.h"
#include "outage_test_plans.h"

namespace crosslink::collectives {
namespace {

using linkmodel::LinkState;
using testing::K4Plan;
using testing::kTestRateBps;
using testing::TestLink;
using testing::TestPlan;

// A plan where rank 0 sends `count` floats to rank 1.
Plan OneMessage(size_t count) {
  Plan plan;
  plan.algorithm = "one_message";
  plan.world_size = 2;
  plan.count = count;
  plan.ranks.resize(2);
  plan.ranks[0].push_back(Step{StepOp::kSend, 1, 0, count, 0, 0, 0});
  plan.ranks[1].push_back(Step{StepOp::kRecv, 0, 0, count, 0, 0, 0});
  return plan;
}

const double kLatency3000S = linkmodel::LightTimeS(3000.0);

TEST(SimulatorTest, MessageTakesSerialisationPlusLatency) {
  const linkmodel::ContactPlan plan = TestPlan(2, {TestLink(0, 1, 3000)}, true);
  const size_t count = 1 << 20;  // 4 MiB of float32
  absl::StatusOr<SimulationResult> r = SimulatePlan(OneMessage(count), plan, {0, 1}, 1.0, {});
  ASSERT_TRUE(r.ok()) << r.status();
  const double expected = count * 4 * 8 / kTestRateBps + kLatency3000S;
  EXPECT_NEAR(r->completion_s, expected, 1e-9);
  EXPECT_NEAR(r->end_s, 1.0 + expected, 1e-9);
  EXPECT_EQ(r->bytes_sent, count * 4);
  EXPECT_EQ(r->outages_met, 0);
  ASSERT_EQ(r->channels.size(), 1u);
  EXPECT_TRUE(r->channels[0].direct);
  EXPECT_NEAR(r->channels[0].busy_s, count * 32 / kTestRateBps, 1e-12);
}

TEST(SimulatorTest, TwoRankRingMatchesTheAnalyticTime) {
  const linkmodel::ContactPlan plan = TestPlan(2, {TestLink(0, 1, 3000)}, true);
  CollectiveSpec request;
  request.world_size = 2;
  request.count = 1 << 20;
  request.max_segment_bytes = 64 << 20;  // one segment per block
  absl::StatusOr<Plan> ring = PlanRingAllreduce(request);
  ASSERT_TRUE(ring.ok());
  SimulatorOptions options;
  options.reduce_rate_Bps = 10e9;
  absl::StatusOr<SimulationResult> r = SimulatePlan(*ring, plan, {0, 1}, 0.0, options);
  ASSERT_TRUE(r.ok()) << r.status();
  // Both ranks send their half at once over separate directions, reduce it, send it back.
  const double block_bytes = request.count * 4 / 2.0;
  const double hop = block_bytes * 8 / kTestRateBps + kLatency3000S;
  EXPECT_NEAR(r->completion_s, 2 * hop + block_bytes / options.reduce_rate_Bps, 1e-9);
}

// Alltoall's sends leave from the input at the start: on two ranks both blocks cross the link at
// once (one channel each way), so it takes one block's serialisation plus the latency.
TEST(SimulatorTest, TwoRankAlltoallSendsBothBlocksAtOnce) {
  const linkmodel::ContactPlan plan = TestPlan(2, {TestLink(0, 1, 3000)}, true);
  CollectiveSpec request;
  request.kind = CollectiveKind::kAlltoall;
  request.world_size = 2;
  const size_t block = 1 << 20;
  request.count = 2 * block;
  request.max_segment_bytes = 64 << 20;  // one segment per block
  absl::StatusOr<Plan> alltoall = PlanCollective(request);
  ASSERT_TRUE(alltoall.ok()) << alltoall.status();
  absl::StatusOr<SimulationResult> r = SimulatePlan(*alltoall, plan, {0, 1}, 0.0, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->completion_s, block * 4 * 8 / kTestRateBps + kLatency3000S, 1e-9);
  EXPECT_EQ(r->bytes_sent, 2 * block * 4);
  EXPECT_EQ(r->channels.size(), 2u);
}

TEST(SimulatorTest, OutageHoldsTheTransferByExactlyItsLength) {
  const size_t count = 1 << 20;
  const double serial_s = count * 32 / kTestRateBps;  // ~4.2 ms
  const double start_s = 1.0;
  // Down for 2.5 s (occluded, then re-acquiring) starting halfway through the serialisation.
  const double down_s = start_s + serial_s / 2;
  const linkmodel::ContactPlan plan =
      TestPlan(2,
               {TestLink(0, 1, 3000,
                         {{0, down_s, LinkState::kUp},
                          {down_s, down_s + 2.0, LinkState::kOccluded},
                          {down_s + 2.0, down_s + 2.5, LinkState::kAcquiring},
                          {down_s + 2.5, testing::kTestWindowS, LinkState::kUp}})},
               true);
  absl::StatusOr<SimulationResult> r = SimulatePlan(OneMessage(count), plan, {0, 1}, start_s, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->completion_s, serial_s + kLatency3000S + 2.5, 1e-9);
  EXPECT_EQ(r->outages_met, 1);
  EXPECT_NEAR(r->channels[0].held_s, 2.5, 1e-9);

  // Sent while the link is down: it leaves when the link is back.
  absl::StatusOr<SimulationResult> late =
      SimulatePlan(OneMessage(count), plan, {0, 1}, down_s + 1.0, {});
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_NEAR(late->end_s, down_s + 2.5 + serial_s + kLatency3000S, 1e-9);
}

TEST(SimulatorTest, LinkDownPastTheDeadlineIsDeadlineExceeded) {
  const linkmodel::ContactPlan plan = TestPlan(
      2, {TestLink(0, 1, 3000, {{0, 10, LinkState::kUp}, {10, 200, LinkState::kFault}})}, true);
  SimulatorOptions options;
  options.deadline_s = 60;
  absl::StatusOr<SimulationResult> r = SimulatePlan(OneMessage(16), plan, {0, 1}, 20.0, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SimulatorTest, RelayedPairUsesTheShortestPathAndItsLatency) {
  // 0 - 1 - 2 in a line: ranks on satellites 0 and 2 talk through satellite 1.
  const linkmodel::ContactPlan plan =
      TestPlan(3, {TestLink(0, 1, 3000), TestLink(1, 2, 3000)}, true);
  absl::StatusOr<SimulationResult> r = SimulatePlan(OneMessage(1024), plan, {0, 2}, 0.0, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->channels[0].direct);
  EXPECT_NEAR(r->completion_s, 4096 * 8 / kTestRateBps + 2 * kLatency3000S, 1e-9);
}

TEST(SimulatorTest, ReceiveOfAMessageNeverSentIsInternal) {
  const linkmodel::ContactPlan plan = TestPlan(2, {TestLink(0, 1, 3000)}, true);
  Plan bad = OneMessage(8);
  bad.ranks[0].clear();
  bad.ranks[0].push_back(Step{StepOp::kRecv, 1, 0, 8, 0, 0, 0});
  bad.ranks[1].push_back(Step{StepOp::kRecv, 0, 0, 8, 0, 1, 0});
  EXPECT_EQ(SimulatePlan(bad, plan, {0, 1}, 0.0, {}).status().code(), absl::StatusCode::kInternal);
}

// Around a predicted outage of the side 1-2, the naive ring stalls for it while the contact-aware
// plan goes around it; the oracle (which also knows the surprise fault on 1-3) is no slower than
// either.
TEST(SimulatorTest, ContactAwareBeatsNaiveRingAroundAnOutageAndOracleBoundsBoth) {
  const linkmodel::ContactPlan predicted = K4Plan(false);
  const linkmodel::ContactPlan truth = K4Plan(true);
  const std::vector<int> sats{0, 1, 2, 3};
  const size_t count = 1 << 20;
  ContactAwareOptions options;
  options.max_segment_bytes = 256 << 10;
  absl::StatusOr<Plan> naive = PlanNaiveRing(4, count, options);
  ASSERT_TRUE(naive.ok());
  absl::StatusOr<SimulationResult> naive_sim = SimulatePlan(*naive, truth, sats, 0.0, {});
  ASSERT_TRUE(naive_sim.ok()) << naive_sim.status();
  EXPECT_GT(naive_sim->completion_s, testing::kSideOutageS - 1);
  EXPECT_GE(naive_sim->outages_met, 1);

  std::vector<double> planner_times;
  for (AllreduceAlgorithm algo : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kAuto}) {
    options.algorithm = algo;
    absl::StatusOr<ContactAwareChoice> choice =
        PlanContactAwareAllreduce(predicted, sats, 0.0, count, options);
    ASSERT_TRUE(choice.ok()) << choice.status();
    absl::StatusOr<SimulationResult> sim = SimulatePlan(choice->plan, truth, sats, 0.0, {});
    ASSERT_TRUE(sim.ok()) << sim.status();
    // It may meet the surprise fault (5 s) but never the predicted 100 s outage.
    EXPECT_LT(sim->completion_s, testing::kDiagonalFaultS + 1) << choice->explanation;
    EXPECT_LT(sim->completion_s, naive_sim->completion_s);
    planner_times.push_back(sim->completion_s);
  }

  options.algorithm = AllreduceAlgorithm::kAuto;
  absl::StatusOr<OracleResult> oracle = SimulateOracle(truth, sats, 0.0, count, options, {});
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  EXPECT_LE(oracle->completion_s, naive_sim->completion_s);
  for (double t : planner_times) EXPECT_LE(oracle->completion_s, t);
  // Knowing the fault, a tree over 0-1, 0-2/0-3 and 2-3 avoids both bad links.
  EXPECT_LT(oracle->completion_s, 1.0) << oracle->best;
  for (const OracleCandidate& c : oracle->candidates) {
    if (c.status.ok()) EXPECT_GE(c.completion_s, oracle->completion_s) << c.name;
  }
}

}  // namespace
}  // namespace crosslink::collectives
