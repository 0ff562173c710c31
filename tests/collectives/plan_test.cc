// Plans as plain data: every planner's sends match its peers' receives (same chunk, size and
// order), ranges stay inside the buffer, per-rank planning equals the full plan, DescribePlan
// shows the steps, and the cost model picks tree for small and ring for large buffers.
#include "crosslink/collectives/plan.h"

#include <functional>
#include <string>

#include "absl/strings/str_format.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/cost_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using ::testing::HasSubstr;

using Planner = std::function<absl::StatusOr<Plan>(const CollectiveSpec&, int)>;

const std::pair<const char*, Planner> kPlanners[] = {
    {"ring_allreduce", PlanRingAllreduce}, {"tree_allreduce", PlanTreeAllreduce},
    {"reduce_scatter", PlanReduceScatter}, {"allgather", PlanAllgather},
    {"broadcast", PlanBroadcast},          {"barrier", PlanBarrier},
};

TEST(PlanTest, EverySendMatchesItsPeersReceiveForEveryPlannerAndShape) {
  for (const auto& [name, planner] : kPlanners) {
    for (int n = 1; n <= 9; ++n) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{5}, size_t{64}, size_t{1001}}) {
        for (size_t seg : {size_t{4}, size_t{100}, size_t{1 << 20}}) {
          CollectiveSpec request;
          request.world_size = n;
          request.count = count;
          request.type = DataType::kFloat32;
          request.op = ReduceOp::kAvg;
          request.root = n - 1;
          request.max_segment_bytes = seg;
          absl::StatusOr<Plan> plan = planner(request, -1);
          ASSERT_TRUE(plan.ok()) << plan.status();
          const std::string what = absl::StrFormat("%s n=%d count=%u seg=%u", name, n, count, seg);
          ASSERT_TRUE(PlanIsConsistent(*plan).ok()) << what << ": " << PlanIsConsistent(*plan);
          // Planning one rank gives exactly that rank's list of the full plan.
          for (int r = 0; r < n; ++r) {
            absl::StatusOr<Plan> one = planner(request, r);
            ASSERT_TRUE(one.ok());
            ASSERT_EQ(one->ranks[r].size(), plan->ranks[r].size()) << what << " rank " << r;
            for (size_t i = 0; i < one->ranks[r].size(); ++i) {
              EXPECT_EQ(one->ranks[r][i].chunk, plan->ranks[r][i].chunk);
              EXPECT_EQ(one->ranks[r][i].offset, plan->ranks[r][i].offset);
            }
          }
        }
      }
    }
  }
}

TEST(PlanTest, EveryPlannerRunsOverASubsetWithoutRankZero) {
  // An elastic job whose rank 0 died: the survivors {1, 2, 3} of a group of 4, rooted at one of
  // them (the barrier ignores its root).
  for (const auto& [name, planner] : kPlanners) {
    CollectiveSpec request;
    request.world_size = 4;
    request.count = 1001;
    request.participants = {1, 2, 3};
    request.root = 1;
    absl::StatusOr<Plan> plan = planner(request, -1);
    ASSERT_TRUE(plan.ok()) << name << ": " << plan.status();
    EXPECT_EQ(plan->world_size, 3) << name;
    EXPECT_TRUE(PlanIsConsistent(*plan).ok()) << name << ": " << PlanIsConsistent(*plan);
  }
}

TEST(PlanTest, SegmentsNeverExceedTheLimitAndCoverEveryElement) {
  CollectiveSpec request;
  request.world_size = 5;
  request.count = 1234;
  request.type = DataType::kFloat64;
  request.max_segment_bytes = 80;  // 10 elements
  absl::StatusOr<Plan> plan = PlanRingAllreduce(request);
  ASSERT_TRUE(plan.ok());
  for (int r = 0; r < 5; ++r) {
    std::vector<int> received(request.count, 0);
    for (const Step& s : plan->ranks[r]) {
      EXPECT_LE(s.count, 10u);
      if (s.op == StepOp::kRecv) {
        for (size_t i = s.offset; i < s.offset + s.count; ++i) ++received[i];
      }
    }
    // The allgather half delivers every element this rank does not own exactly once.
    const Range own = BlockRange(request.count, 5, r);
    for (size_t i = 0; i < request.count; ++i) {
      const bool owned = i >= own.offset && i < own.offset + own.count;
      EXPECT_EQ(received[i], owned ? 0 : 1) << "rank " << r << " element " << i;
    }
  }
}

TEST(PlanTest, BlockRangesAreFloorOrCeilAndTileTheBuffer) {
  for (int n = 1; n <= 8; ++n) {
    for (size_t count : {size_t{0}, size_t{3}, size_t{7}, size_t{100}}) {
      size_t next = 0;
      for (int b = 0; b < n; ++b) {
        const Range r = BlockRange(count, n, b);
        EXPECT_EQ(r.offset, next);
        EXPECT_TRUE(r.count == count / n || r.count == count / n + 1);
        next += r.count;
      }
      EXPECT_EQ(next, count);
    }
  }
}

TEST(PlanTest, DescribePlanListsEveryRanksSteps) {
  CollectiveSpec request;
  request.world_size = 3;
  request.count = 10;
  request.op = ReduceOp::kAvg;
  absl::StatusOr<Plan> plan = PlanRingAllreduce(request);
  ASSERT_TRUE(plan.ok());
  const std::string text = DescribePlan(*plan);
  EXPECT_THAT(text, HasSubstr("ring_allreduce allreduce world=3 count=10 float32 avg"));
  EXPECT_THAT(text, HasSubstr("rank 2:"));
  EXPECT_THAT(text, HasSubstr("recv_reduce from 2"));
  EXPECT_THAT(text, HasSubstr("send to 1"));
  EXPECT_THAT(text, HasSubstr("finalize"));
}

TEST(PlanTest, InconsistentPlanIsReported) {
  CollectiveSpec request;
  request.world_size = 3;
  request.count = 10;
  absl::StatusOr<Plan> plan = PlanRingAllreduce(request);
  ASSERT_TRUE(plan.ok());
  plan->ranks[1].pop_back();
  EXPECT_EQ(PlanIsConsistent(*plan).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlanTest, BadRequestsAreRejected) {
  CollectiveSpec request;
  request.world_size = 0;
  EXPECT_EQ(PlanRingAllreduce(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.world_size = 2;
  request.root = 2;
  EXPECT_EQ(PlanBroadcast(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.root = 0;
  request.max_segment_bytes = 0;
  EXPECT_EQ(PlanTreeAllreduce(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CostModelTest, PicksTreeForSmallMessagesAndRingForLargeOnes) {
  LinkCostHints hints;
  hints.latency_s = 5e-3;
  hints.rate_bps = 10e9;
  EXPECT_EQ(ChooseAllreduceAlgorithm(16, 1024, hints), AllreduceAlgorithm::kTree);
  EXPECT_EQ(ChooseAllreduceAlgorithm(16, size_t{1} << 30, hints), AllreduceAlgorithm::kRing);
  // Two ranks: the ring is never slower, so it is chosen.
  EXPECT_EQ(ChooseAllreduceAlgorithm(2, 16, hints), AllreduceAlgorithm::kRing);
  // The formulas themselves: 8 ranks, 1 MB at 8 Mbit/s (1 s per MB) and 1 s latency.
  LinkCostHints slow{1.0, 8e6};
  EXPECT_DOUBLE_EQ(RingAllreduceTimeS(8, 1000000, slow), 14.0 + 2.0 * 7.0 / 8.0);
  EXPECT_DOUBLE_EQ(TreeAllreduceTimeS(8, 1000000, slow), 6.0 * 2.0);
}

}  // namespace
}  // namespace crosslink::collectives
