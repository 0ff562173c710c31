#include "crosslink/collectives/planning/plan_choice.h"

#include <vector>

#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "gtest/gtest.h"
#include "outage_test_plans.h"

namespace crosslink::collectives {
namespace {

using testing::K4Plan;

CollectiveSpec ContactAwareAllreduce(int world_size, size_t count) {
  CollectiveSpec spec;
  spec.world_size = world_size;
  spec.count = count;
  spec.contact_aware = true;
  return spec;
}

bool Adjacent(const std::vector<int>& ring, int a, int b) {
  const int n = static_cast<int>(ring.size());
  for (int v = 0; v < n; ++v) {
    const int x = ring[v];
    const int y = ring[(v + 1) % n];
    if ((x == a && y == b) || (x == b && y == a)) return true;
  }
  return false;
}

TEST(PlanChoiceTest, ContactAwareOrderBecomesTheParticipantsOfTheStandardPlan) {
  const linkmodel::ContactPlan predicted = K4Plan(false);
  CollectiveSpec spec = ContactAwareAllreduce(4, 1 << 20);
  spec.algorithm = AllreduceAlgorithm::kRing;
  ContactAwareInputs inputs{&predicted, {0, 1, 2, 3}, 0.0, 0.0};
  absl::StatusOr<ContactAwareResolution> resolved = ResolveContactAware(spec, inputs);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->spec.algorithm, AllreduceAlgorithm::kRing);
  ASSERT_EQ(resolved->spec.participants.size(), 4u);
  // Side 1-2 drops during the collective: the ring order keeps 1 and 2 apart.
  EXPECT_FALSE(Adjacent(resolved->spec.participants, 1, 2)) << resolved->explanation;
  // The same order the planner reports.
  ContactAwareOptions options;
  options.algorithm = AllreduceAlgorithm::kRing;
  absl::StatusOr<ContactAwareChoice> choice =
      PlanContactAwareAllreduce(predicted, {0, 1, 2, 3}, 0.0, 1 << 20, options);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(resolved->spec.participants, choice->ring_order);
  absl::StatusOr<Plan> plan = PlanCollective(resolved->spec);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->algorithm, "contact_aware_ring");
  EXPECT_TRUE(PlanIsConsistent(*plan).ok());
}

TEST(PlanChoiceTest, ASubsetIsOrderedOverItsOwnSatellitesAndNamesGroupRanks) {
  const linkmodel::ContactPlan predicted = K4Plan(false);
  // Group ranks 0..4 on satellites {2, 0, 3, 1, 3}; the subset {1, 3, 0} sits on sats {0, 1, 2}.
  CollectiveSpec spec = ContactAwareAllreduce(5, 1 << 20);
  spec.algorithm = AllreduceAlgorithm::kRing;
  spec.participants = {1, 3, 0};
  ContactAwareInputs inputs{&predicted, {2, 0, 3, 1, 3}, 0.0, 0.0};
  absl::StatusOr<ContactAwareResolution> resolved = ResolveContactAware(spec, inputs);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  std::vector<int> sorted = resolved->spec.participants;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{0, 1, 3}));
}

TEST(PlanChoiceTest, BadContactAwareInputsAreInvalidArguments) {
  const linkmodel::ContactPlan predicted = K4Plan(false);
  CollectiveSpec spec = ContactAwareAllreduce(4, 16);
  EXPECT_EQ(ResolveContactAware(spec, {nullptr, {0, 1, 2, 3}, 0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveContactAware(spec, {&predicted, {0, 1}, 0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec.kind = CollectiveKind::kBroadcast;
  EXPECT_EQ(ResolveContactAware(spec, {&predicted, {0, 1, 2, 3}, 0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PlanChoiceTest, AutoResolvesByTheCostModelOverThePlanWorldSize) {
  CollectiveSpec spec;
  spec.world_size = 8;
  spec.count = 64;
  const LinkCostHints slow_latency{5e-3, 10e9};
  EXPECT_EQ(ResolveAlgorithm(spec, slow_latency).algorithm, AllreduceAlgorithm::kTree);
  spec.count = 16 << 20;
  EXPECT_EQ(ResolveAlgorithm(spec, slow_latency).algorithm, AllreduceAlgorithm::kRing);
  // Two participants: the ring and the tree cost the same, and ties go to the ring.
  spec.count = 64;
  spec.participants = {2, 5};
  EXPECT_EQ(ResolveAlgorithm(spec, slow_latency).algorithm,
            ChooseAllreduceAlgorithm(2, 64 * 4, slow_latency));
  spec.kind = CollectiveKind::kBroadcast;
  spec.participants.clear();
  EXPECT_EQ(ResolveAlgorithm(spec, slow_latency).algorithm, AllreduceAlgorithm::kAuto);
}

TEST(PlanChoiceTest, HintsAreTheSlowestUpLink) {
  LinkWindow up_fast{true, 0.001, 100e9};
  LinkWindow up_slow{true, 0.004, 10e9};
  LinkWindow down{false, 1.0, 1e3};
  const LinkCostHints hints = SlowestUpLink(std::vector<LinkWindow>{up_fast, down, up_slow});
  EXPECT_EQ(hints.latency_s, 0.004);
  EXPECT_EQ(hints.rate_bps, 10e9);
  EXPECT_EQ(SlowestUpLink(std::vector<LinkWindow>{down}).rate_bps, kLoopbackCostHints.rate_bps);
  // K4 at t = 50 s: side 1-2 is down, the other ring sides are 3000 km (10 ms) at the test rate.
  const linkmodel::ContactPlan truth = K4Plan(true);
  const LinkCostHints ring = RingLinkHints(truth, std::vector<int>{0, 1, 2, 3}, 50.0);
  EXPECT_NEAR(ring.latency_s, 3000 / 299792.458, 1e-4);
  EXPECT_EQ(ring.rate_bps, testing::kTestRateBps);
}

}  // namespace
}  // namespace crosslink::collectives
