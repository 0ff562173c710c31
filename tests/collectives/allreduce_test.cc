// Allreduce over an in-process mesh, one thread per rank: every algorithm x type x op x world
// size x awkward count, bit for bit against a reference reduced in the algorithm's order, and
// bit-identical on every rank.
#include "crosslink/collectives/allreduce.h"

#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "collective_test_util.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/planning/plan_choice.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Bytes;
using testing::Mesh;

struct Case {
  AllreduceAlgorithm algorithm;
  size_t max_segment_bytes;
};

void CheckAllreduce(Mesh& mesh, AllreduceAlgorithm algorithm, DataType type, ReduceOp op,
                    size_t count, size_t max_segment_bytes, uint64_t seed) {
  const int n = mesh.world_size();
  std::vector<Bytes> inputs, buffers;
  for (int r = 0; r < n; ++r) inputs.push_back(testing::RandomBuffer(type, count, seed * 131 + r));
  buffers = inputs;
  CollectiveOptions options;
  options.algorithm = algorithm;
  options.max_segment_bytes = max_segment_bytes;
  options.deadline = absl::Now() + absl::Seconds(30);
  const std::string what = absl::StrFormat(
      "%s n=%d %s %s count=%u seg=%u", algorithm == AllreduceAlgorithm::kRing ? "ring" : "tree", n,
      DataTypeName(type), ReduceOpName(op), count, max_segment_bytes);
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    return Allreduce(mesh.Context(r), buffers[r].data(), count, type, op, options);
  });
  const Bytes expected = algorithm == AllreduceAlgorithm::kRing
                             ? testing::RingReference(inputs, type, op, count)
                             : testing::TreeReference(inputs, type, op, count);
  for (int r = 0; r < n; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << what << ": " << statuses[r];
    // Vector equality, not memcmp: count 0 leaves data() null, which memcmp must not get.
    ASSERT_TRUE(buffers[r] == buffers[0]) << what << ": rank " << r << " differs from rank 0";
    ASSERT_TRUE(buffers[r] == expected) << what << ": rank " << r << " differs from the reference";
  }
}

class AllreduceMatrixTest : public ::testing::TestWithParam<int> {};

TEST_P(AllreduceMatrixTest, EveryAlgorithmTypeOpAndSizeMatchesReferenceBitForBit) {
  const int n = GetParam();
  Mesh mesh(n);
  const std::vector<size_t> counts = {0, 1, static_cast<size_t>(n > 1 ? n - 1 : 2),
                                      static_cast<size_t>(2 * n + 1), 1003};
  uint64_t seed = 1;
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    for (DataType type : testing::kAllTypes) {
      for (ReduceOp op : testing::kAllOps) {
        for (size_t count : counts) {
          // The default segment limit (one segment per block) and a tiny one (many segments,
          // all in flight at once).
          for (size_t seg : {size_t{512 << 10}, size_t{24}}) {
            CheckAllreduce(mesh, algorithm, type, op, count, seg, ++seed);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, AllreduceMatrixTest, ::testing::Values(1, 2, 3, 4, 7));

TEST(AllreduceTest, TinySegmentsPipelineThousandsOfMessages) {
  Mesh mesh(4);
  // 1 element per segment: 2 * 3 * 1001 messages per rank, far more than the receive window.
  CheckAllreduce(mesh, AllreduceAlgorithm::kRing, DataType::kFloat32, ReduceOp::kSum, 4003, 4, 7);
  CheckAllreduce(mesh, AllreduceAlgorithm::kTree, DataType::kFloat64, ReduceOp::kAvg, 2001, 8, 8);
}

TEST(AllreduceTest, RingAndTreeAgreeWithinRoundingOfAnExactSum) {
  const int n = 7;
  const size_t count = 5000;
  Mesh mesh(n);
  std::vector<Bytes> inputs;
  for (int r = 0; r < n; ++r) {
    inputs.push_back(testing::RandomBuffer(DataType::kFloat32, count, 99 + r));
  }
  std::vector<Bytes> ring = inputs, tree = inputs;
  for (auto [algorithm, buffers] :
       {std::pair{AllreduceAlgorithm::kRing, &ring}, std::pair{AllreduceAlgorithm::kTree, &tree}}) {
    CollectiveOptions options;
    options.algorithm = algorithm;
    options.max_segment_bytes = 1024;
    options.deadline = absl::Now() + absl::Seconds(30);
    for (const absl::Status& s : mesh.Run([&](int r) {
           return Allreduce(mesh.Context(r), (*buffers)[r].data(), count, DataType::kFloat32,
                            ReduceOp::kSum, options);
         })) {
      ASSERT_TRUE(s.ok()) << s;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    double exact = 0, magnitude = 0;
    for (int r = 0; r < n; ++r) {
      float v;
      std::memcpy(&v, inputs[r].data() + 4 * i, 4);
      exact += v;
      magnitude += std::abs(v);
    }
    float a, b;
    std::memcpy(&a, ring[0].data() + 4 * i, 4);
    std::memcpy(&b, tree[0].data() + 4 * i, 4);
    // n-1 float32 additions: each rounds by at most half an ulp of the running magnitude.
    const double tolerance = n * magnitude * 6e-8;
    ASSERT_NEAR(a, exact, tolerance) << "element " << i;
    ASSERT_NEAR(b, exact, tolerance) << "element " << i;
  }
}

TEST(AllreduceTest, AutoPicksTreeForSmallAndRingForLargeBuffers) {
  const LinkCostHints hints{5e-3, 10e9};
  auto plan = [&](size_t count) {
    return PlanCollective(ResolveAlgorithm(MakeCollectiveSpec(CollectiveKind::kAllreduce, 8, count,
                                                              DataType::kFloat32, ReduceOp::kSum, 0,
                                                              CollectiveOptions{}),
                                           hints),
                          0);
  };
  absl::StatusOr<Plan> small = plan(256);
  absl::StatusOr<Plan> large = plan(64 << 20);
  ASSERT_TRUE(small.ok() && large.ok());
  EXPECT_EQ(small->algorithm, "tree_allreduce");
  EXPECT_EQ(large->algorithm, "ring_allreduce");
}

TEST(AllreduceTest, SequenceNumbersAdvanceAcrossManyCollectivesOnTheSameMesh) {
  Mesh mesh(3);
  for (int i = 0; i < 50; ++i) {
    CheckAllreduce(mesh, i % 2 ? AllreduceAlgorithm::kRing : AllreduceAlgorithm::kTree,
                   DataType::kInt32, ReduceOp::kSum, 17, 8, 1000 + i);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace crosslink::collectives
