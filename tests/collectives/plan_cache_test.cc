#include "crosslink/collectives/planning/plan_cache.h"

#include "crosslink/collectives/algorithms.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

CollectiveSpec Ring(size_t count) {
  CollectiveSpec spec;
  spec.algorithm = AllreduceAlgorithm::kRing;
  spec.world_size = 4;
  spec.count = count;
  return spec;
}

TEST(PlanCacheTest, ASpecIsPlannedOncePerPlanRankWithThatRanksStepsOnly) {
  PlanCache cache;
  absl::StatusOr<std::shared_ptr<const Plan>> a = cache.Get(Ring(1000), 1);
  absl::StatusOr<std::shared_ptr<const Plan>> b = cache.Get(Ring(1000), 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_TRUE((*a)->ranks[0].empty());
  const Plan full = *PlanCollective(Ring(1000));
  ASSERT_EQ((*a)->ranks[1].size(), full.ranks[1].size());
  absl::StatusOr<std::shared_ptr<const Plan>> other_rank = cache.Get(Ring(1000), 2);
  ASSERT_TRUE(other_rank.ok());
  EXPECT_NE(other_rank->get(), a->get());
  EXPECT_EQ(cache.size(), 2u);
}

TEST(PlanCacheTest, StaysBoundedAndKeepsHandedOutPlansValid) {
  PlanCache cache(/*capacity=*/3);
  absl::StatusOr<std::shared_ptr<const Plan>> first = cache.Get(Ring(1), 0);
  ASSERT_TRUE(first.ok());
  for (size_t count = 2; count < 20; ++count) ASSERT_TRUE(cache.Get(Ring(count), 0).ok());
  EXPECT_LE(cache.size(), 3u);
  EXPECT_EQ((*first)->count, 1u);  // still held by the caller
}

TEST(PlanCacheTest, ErrorsAreReturnedAndNotCached) {
  PlanCache cache;
  CollectiveSpec unresolved = Ring(10);
  unresolved.algorithm = AllreduceAlgorithm::kAuto;
  EXPECT_EQ(cache.Get(unresolved, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Get(Ring(10), 7).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace crosslink::collectives
