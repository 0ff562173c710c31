#include "crosslink/collectives/contact_aware_planner.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "absl/types/span.h"
#include "collective_test_util.h"
#include "crosslink/collectives/executor.h"
#include "gtest/gtest.h"
#include "outage_test_plans.h"

namespace crosslink::collectives {
namespace {

using testing::K4Plan;
using testing::TestLink;
using testing::TestPlan;

// Whether any step of the plan is a message between ranks a and b.
bool Talks(const Plan& plan, int a, int b) {
  for (int r : {a, b}) {
    for (const Step& s : plan.ranks[r]) {
      if (s.peer == (r == a ? b : a)) return true;
    }
  }
  return false;
}

TEST(ContactAwarePlannerTest, AvoidsALinkPredictedToDropDuringTheCollective) {
  const linkmodel::ContactPlan predicted = K4Plan(false);
  ContactAwareOptions options;
  options.algorithm = AllreduceAlgorithm::kRing;
  absl::StatusOr<ContactAwareChoice> choice =
      PlanContactAwareAllreduce(predicted, {0, 1, 2, 3}, 0.0, 1 << 20, options);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->algorithm, AllreduceAlgorithm::kRing);
  EXPECT_TRUE(PlanIsConsistent(choice->plan).ok());
  EXPECT_FALSE(Talks(choice->plan, 1, 2)) << choice->explanation;
  EXPECT_FALSE(choice->explanation.empty());
  // The estimate has no stall in it: under a second, not the 100 s outage.
  EXPECT_LT(choice->estimate_s, 1.0) << choice->explanation;

  // Long after the outage the rank-order ring over the short sides is best again.
  absl::StatusOr<ContactAwareChoice> later =
      PlanContactAwareAllreduce(predicted, {0, 1, 2, 3}, 150.0, 1 << 20, options);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(Talks(later->plan, 1, 2)) << later->explanation;
  EXPECT_FALSE(Talks(later->plan, 0, 2)) << later->explanation;
}

TEST(ContactAwarePlannerTest, TreeAvoidsTheDroppingLinkToo) {
  const linkmodel::ContactPlan predicted = K4Plan(false);
  ContactAwareOptions options;
  options.algorithm = AllreduceAlgorithm::kTree;
  absl::StatusOr<ContactAwareChoice> choice =
      PlanContactAwareAllreduce(predicted, {0, 1, 2, 3}, 0.0, 1 << 10, options);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->algorithm, AllreduceAlgorithm::kTree);
  EXPECT_TRUE(PlanIsConsistent(choice->plan).ok());
  EXPECT_FALSE(Talks(choice->plan, 1, 2)) << choice->explanation;
}

// A square of direct links 0-1-2-3-0 (3000 km) and a hub satellite 4 linked to all four
// (2000 km each, so a relay through it costs 4000 km of light time). Ranks sit on the square's
// corners in an order whose rank-order ring would need the hub twice.
linkmodel::ContactPlan SquareWithHub() {
  return TestPlan(
      5,
      {TestLink(0, 1, 3000), TestLink(1, 2, 3000), TestLink(2, 3, 3000), TestLink(0, 3, 3000),
       TestLink(0, 4, 2000), TestLink(1, 4, 2000), TestLink(2, 4, 2000), TestLink(3, 4, 2000)},
      false);
}

TEST(ContactAwarePlannerTest, PrefersDirectLinksOverRelays) {
  const linkmodel::ContactPlan plan = SquareWithHub();
  const std::vector<int> sats{0, 2, 1, 3};  // rank r on satellite sats[r]
  ContactAwareOptions options;
  options.algorithm = AllreduceAlgorithm::kRing;
  absl::StatusOr<ContactAwareChoice> choice =
      PlanContactAwareAllreduce(plan, sats, 0.0, 1 << 20, options);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->relay_links, 0) << choice->explanation;
  const std::vector<int>& order = choice->ring_order;
  ASSERT_EQ(order.size(), 4u);
  for (int v = 0; v < 4; ++v) {
    EXPECT_TRUE(plan.FindLink(sats[order[v]], sats[order[(v + 1) % 4]]).has_value())
        << choice->explanation;
  }
  // The rank-order ring would relay two of its four links; the planner's estimate beats it.
  EXPECT_TRUE(EstimatePair(plan, 0, 2, 0.0).reachable);
  EXPECT_FALSE(EstimatePair(plan, 0, 2, 0.0).direct);
  EXPECT_EQ(EstimatePair(plan, 0, 2, 0.0).hops, 2);
}

TEST(ContactAwarePlannerTest, GreedyTwoOptFindsTheDirectRingForManyRanks) {
  // A cycle of 12 satellites with direct links between neighbours, and ranks placed on them in a
  // scrambled order: the only all-direct ring visits the satellites in cycle order.
  constexpr int kN = 12;
  std::vector<linkmodel::Link> links;
  for (int i = 0; i + 1 < kN; ++i) links.push_back(TestLink(i, i + 1, 1000));
  links.push_back(TestLink(0, kN - 1, 1000));
  const linkmodel::ContactPlan plan = TestPlan(kN, std::move(links), false);
  std::vector<int> sats(kN);
  for (int r = 0; r < kN; ++r) sats[r] = (r * 5) % kN;  // 5 is coprime to 12: a permutation
  absl::StatusOr<ContactAwareChoice> choice =
      PlanContactAwareAllreduce(plan, sats, 0.0, 1 << 20, ContactAwareOptions{});
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_TRUE(PlanIsConsistent(choice->plan).ok());
  const std::vector<int>& order = choice->ring_order;
  for (int v = 0; v < kN; ++v) {
    EXPECT_TRUE(plan.FindLink(sats[order[v]], sats[order[(v + 1) % kN]]).has_value())
        << choice->explanation;
  }
}

TEST(ContactAwarePlannerTest, RejectsBadRankLists) {
  const linkmodel::ContactPlan plan = SquareWithHub();
  EXPECT_EQ(PlanContactAwareAllreduce(plan, {}, 0, 8, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanContactAwareAllreduce(plan, {0, 0}, 0, 8, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanContactAwareAllreduce(plan, {0, 9}, 0, 8, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PermutePlanRanksTest, RejectsNonPermutations) {
  CollectiveSpec request;
  request.world_size = 3;
  request.count = 6;
  absl::StatusOr<Plan> ring = PlanRingAllreduce(request);
  ASSERT_TRUE(ring.ok());
  EXPECT_EQ(PermutePlanRanks(*ring, {0, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PermutePlanRanks(*ring, {0, 1, 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

// The executor runs a plan built for a permuted order: each rank follows its own step list and
// the peers in it, so every rank ends with the same sum.
TEST(PermutePlanRanksTest, ExecutorRunsThePermutedRingAndTree) {
  constexpr int kN = 5;
  const std::vector<int> order{3, 0, 4, 1, 2};
  for (bool tree : {false, true}) {
    CollectiveSpec request;
    request.world_size = kN;
    request.count = 103;
    request.max_segment_bytes = 64;  // several segments per block
    absl::StatusOr<Plan> base = tree ? PlanTreeAllreduce(request) : PlanRingAllreduce(request);
    ASSERT_TRUE(base.ok());
    absl::StatusOr<Plan> plan = PermutePlanRanks(*base, order);
    ASSERT_TRUE(plan.ok());
    ASSERT_TRUE(PlanIsConsistent(*plan).ok());
    // The ring's neighbours are the order's neighbours.
    if (!tree) {
      for (int v = 0; v < kN; ++v) EXPECT_TRUE(Talks(*plan, order[v], order[(v + 1) % kN]));
    }
    testing::Mesh mesh(kN);
    std::vector<std::vector<float>> data(kN, std::vector<float>(request.count));
    for (int r = 0; r < kN; ++r) {
      for (size_t i = 0; i < request.count; ++i) data[r][i] = static_cast<float>(r + 1) * i;
    }
    std::vector<absl::Status> statuses = mesh.Run([&](int r) {
      std::vector<Connection*> conns;
      for (int p = 0; p < kN; ++p) conns.push_back(p == r ? nullptr : mesh.connection(r, p));
      ExecuteArgs args;
      args.plan = &*plan;
      args.rank = r;
      args.connections = absl::MakeConstSpan(conns);
      args.job_id = 42;
      args.sequence = 0;
      args.data = data[r].data();
      args.deadline = absl::Now() + absl::Seconds(20);
      return ExecutePlan(args);
    });
    for (int r = 0; r < kN; ++r) {
      ASSERT_TRUE(statuses[r].ok()) << "rank " << r << ": " << statuses[r];
      for (size_t i = 0; i < request.count; ++i) {
        ASSERT_EQ(data[r][i], 15.0f * i) << "rank " << r << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace crosslink::collectives
