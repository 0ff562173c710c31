#include "crosslink/collectives/run_collective.h"

#include <cstring>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "collective_test_util.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/collectives/executor.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Mesh;

std::vector<std::vector<float>> Inputs(int n, size_t count) {
  std::vector<std::vector<float>> data(n, std::vector<float>(count));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) data[r][i] = 0.37f * (r + 1) + 0.011f * i;
  }
  return data;
}

// A reordered spec (the contact-aware ring order) gives, bit for bit, what the permuted plan the
// contact-aware planner builds gives: one path, the same messages.
TEST(RunCollectiveTest, ReorderedParticipantsMatchThePermutedPlanBitForBit) {
  constexpr int kN = 5;
  constexpr size_t kCount = 211;
  const std::vector<int> order{3, 0, 4, 1, 2};
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    CollectiveSpec spec;
    spec.algorithm = algorithm;
    spec.world_size = kN;
    spec.count = kCount;
    spec.max_segment_bytes = 64;
    absl::StatusOr<Plan> permuted = PermutePlanRanks(*PlanCollective(spec), order);
    ASSERT_TRUE(permuted.ok());
    Mesh mesh(kN);
    std::vector<std::vector<float>> expected = Inputs(kN, kCount);
    std::vector<absl::Status> statuses = mesh.Run([&](int r) {
      std::vector<Connection*> conns;
      for (int p = 0; p < kN; ++p) conns.push_back(mesh.connection(r, p));
      ExecuteArgs args;
      args.plan = &*permuted;
      args.rank = r;
      args.connections = conns;
      args.job_id = 42;
      args.sequence = 0;
      args.data = expected[r].data();
      args.deadline = absl::Now() + absl::Seconds(20);
      return ExecutePlan(args);
    });
    for (const absl::Status& s : statuses) ASSERT_TRUE(s.ok()) << s;

    CollectiveSpec reordered = spec;
    reordered.participants = order;
    std::vector<std::vector<float>> got = Inputs(kN, kCount);
    statuses = mesh.Run([&](int r) {
      return RunCollective(mesh.Context(r), reordered, {got[r].data()},
                           absl::Now() + absl::Seconds(20));
    });
    for (int r = 0; r < kN; ++r) {
      ASSERT_TRUE(statuses[r].ok()) << statuses[r];
      ASSERT_EQ(std::memcmp(got[r].data(), expected[r].data(), kCount * sizeof(float)), 0)
          << "rank " << r;
    }
  }
}

// A subset runs among its members only: kAvg divides by the participants, the others' buffers
// and connections are untouched, and the mesh stays usable for the next full collective.
TEST(RunCollectiveTest, ASubsetAveragesOverItsParticipantsAndLeavesTheMeshInStep) {
  constexpr int kN = 4;
  Mesh mesh(kN);
  auto cache = std::make_shared<PlanCache>();
  CollectiveSpec spec;
  spec.algorithm = AllreduceAlgorithm::kRing;
  spec.world_size = kN;
  spec.count = 10;
  spec.op = ReduceOp::kAvg;
  spec.participants = {3, 0, 1};
  std::vector<std::vector<float>> data(kN, std::vector<float>(10));
  for (int r = 0; r < kN; ++r) std::fill(data[r].begin(), data[r].end(), 3.0f * r);
  std::vector<absl::Status> statuses = mesh.Run(
      [&](int r) {
        CollectiveContext context = mesh.Context(r);
        context.plan_cache = cache;
        std::string algorithm;
        absl::Status s = RunCollective(context, spec, {data[r].data()},
                                       absl::Now() + absl::Seconds(20), &algorithm);
        EXPECT_EQ(algorithm, "ring_allreduce");
        return s;
      },
      {0, 1, 3});
  for (int r : {0, 1, 3}) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    for (float v : data[r]) EXPECT_EQ(v, (0.0f + 3.0f + 9.0f) / 3);
  }
  for (float v : data[2]) EXPECT_EQ(v, 6.0f);
  EXPECT_EQ(cache->size(), 3u);

  CollectiveSpec full = spec;
  full.participants.clear();
  full.op = ReduceOp::kSum;
  statuses = mesh.Run([&](int r) {
    return RunCollective(mesh.Context(r), full, {data[r].data()}, absl::Now() + absl::Seconds(20));
  });
  for (int r = 0; r < kN; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    for (float v : data[r]) EXPECT_EQ(v, 4.0f * 3 + 6.0f);
  }
}

TEST(RunCollectiveTest, ANonParticipantOrAWrongWorldIsRejectedBeforeAnythingMoves) {
  Mesh mesh(3);
  CollectiveSpec spec;
  spec.algorithm = AllreduceAlgorithm::kRing;
  spec.world_size = 3;
  spec.count = 4;
  spec.participants = {0, 1};
  std::vector<float> data(4, 1.0f);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  EXPECT_EQ(RunCollective(mesh.Context(2), spec, {data.data()}, deadline).code(),
            absl::StatusCode::kInvalidArgument);
  spec.participants.clear();
  spec.world_size = 4;
  EXPECT_EQ(RunCollective(mesh.Context(0), spec, {data.data()}, deadline).code(),
            absl::StatusCode::kInvalidArgument);
  for (float v : data) EXPECT_EQ(v, 1.0f);
}

// Failures name group ranks: participants {2, 1} run plan ranks 0 and 1, and a disagreement
// between them must read "rank 2" / "rank 1", never the plan's "rank 0".
TEST(RunCollectiveTest, FailuresNameGroupRanksNotPlanRanks) {
  Mesh mesh(3);
  std::vector<std::vector<float>> data(3, std::vector<float>(8, 1.0f));
  std::vector<absl::Status> statuses = mesh.Run(
      [&](int r) {
        CollectiveSpec spec;
        spec.algorithm = AllreduceAlgorithm::kRing;
        spec.world_size = 3;
        spec.count = r == 2 ? 8 : 6;  // ranks disagree on the count
        spec.participants = {2, 1};
        return RunCollective(mesh.Context(r), spec, {data[r].data()},
                             absl::Now() + absl::Seconds(10));
      },
      {1, 2});
  for (int r : {1, 2}) {
    EXPECT_EQ(statuses[r].code(), absl::StatusCode::kInvalidArgument) << statuses[r];
    EXPECT_EQ(std::string(statuses[r].message()).find("rank 0"), std::string::npos) << statuses[r];
  }
}

// kAuto is resolved from the context's hints, the same on every rank.
TEST(RunCollectiveTest, AutoTakesTheContextsCostHints) {
  Mesh mesh(4);
  CollectiveSpec spec;
  spec.world_size = 4;
  spec.count = 16;
  std::vector<std::vector<float>> data(4, std::vector<float>(16, 1.0f));
  std::vector<std::string> algorithms(4);
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveContext context = mesh.Context(r);
    context.cost_hints = {5e-3, 10e9};  // latency-bound: the tree wins for 64 bytes
    return RunCollective(context, spec, {data[r].data()}, absl::Now() + absl::Seconds(20),
                         &algorithms[r]);
  });
  for (int r = 0; r < 4; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << statuses[r];
    EXPECT_EQ(algorithms[r], "tree_allreduce");
    EXPECT_EQ(data[r][0], 4.0f);
  }
}

}  // namespace
}  // namespace crosslink::collectives
