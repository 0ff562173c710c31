#include "crosslink/collectives/collective_spec.h"

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

TEST(CollectiveSpecTest, MakeCollectiveSpecKeepsAllreduceChoicesForAllreduceOnly) {
  CollectiveOptions options;
  options.algorithm = AllreduceAlgorithm::kTree;
  options.contact_aware = true;
  options.compression = WireCompression::kInt8;
  options.max_segment_bytes = 4096;
  const CollectiveSpec allreduce = MakeCollectiveSpec(
      CollectiveKind::kAllreduce, 4, 100, DataType::kFloat32, ReduceOp::kAvg, 0, options);
  EXPECT_EQ(allreduce.algorithm, AllreduceAlgorithm::kTree);
  EXPECT_TRUE(allreduce.contact_aware);
  EXPECT_EQ(allreduce.compression, WireCompression::kInt8);
  EXPECT_EQ(allreduce.max_segment_bytes, 4096u);
  // Other kinds, and other types, ignore what only a float32 allreduce uses, so that two ranks
  // that pass different irrelevant options still hold equal specs (and plan signatures).
  const CollectiveSpec broadcast = MakeCollectiveSpec(
      CollectiveKind::kBroadcast, 4, 100, DataType::kFloat32, ReduceOp::kSum, 2, options);
  EXPECT_EQ(broadcast.algorithm, AllreduceAlgorithm::kAuto);
  EXPECT_FALSE(broadcast.contact_aware);
  EXPECT_EQ(broadcast.compression, WireCompression::kNone);
  EXPECT_EQ(broadcast.root, 2);
  const CollectiveSpec int_allreduce = MakeCollectiveSpec(
      CollectiveKind::kAllreduce, 4, 100, DataType::kInt32, ReduceOp::kSum, 0, options);
  EXPECT_EQ(int_allreduce.compression, WireCompression::kNone);
  // 0 takes the default segment size.
  EXPECT_EQ(MakeCollectiveSpec(CollectiveKind::kBarrier, 2, 0, DataType::kFloat32, ReduceOp::kSum,
                               0, CollectiveOptions{})
                .max_segment_bytes,
            kDefaultMaxSegmentBytes);
}

TEST(CollectiveSpecTest, ParticipantsMapPlanRanksToGroupRanks) {
  CollectiveSpec spec;
  spec.world_size = 5;
  EXPECT_EQ(spec.plan_world_size(), 5);
  EXPECT_EQ(spec.PlanRank(3), 3);
  EXPECT_EQ(spec.PlanRank(5), -1);
  spec.participants = {4, 0, 2};
  EXPECT_EQ(spec.plan_world_size(), 3);
  EXPECT_EQ(spec.PlanRank(4), 0);
  EXPECT_EQ(spec.PlanRank(2), 2);
  EXPECT_EQ(spec.PlanRank(1), -1);
  EXPECT_EQ(spec.GroupRank(1), 0);
}

TEST(CollectiveSpecTest, ValidateRejectsEachBadField) {
  CollectiveSpec good;
  good.world_size = 3;
  ASSERT_TRUE(ValidateSpec(good).ok());
  auto code = [&](auto mutate) {
    CollectiveSpec s = good;
    mutate(s);
    return ValidateSpec(s).code();
  };
  constexpr auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code([](CollectiveSpec& s) { s.world_size = 0; }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.root = 3; }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.type = static_cast<DataType>(99); }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.op = static_cast<ReduceOp>(99); }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.max_segment_bytes = 0; }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.algorithm = static_cast<AllreduceAlgorithm>(7); }),
            kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.compression = static_cast<WireCompression>(9); }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.participants = {0, 0}; }), kBad);
  EXPECT_EQ(code([](CollectiveSpec& s) { s.participants = {3}; }), kBad);
}

TEST(CollectiveSpecTest, EqualSpecsHashAlikeAndEveryFieldDistinguishes) {
  CollectiveSpec base;
  base.world_size = 4;
  base.count = 10;
  std::vector<CollectiveSpec> variants(10, base);
  variants[1].kind = CollectiveKind::kReduceScatter;
  variants[2].algorithm = AllreduceAlgorithm::kRing;
  variants[3].contact_aware = true;
  variants[4].count = 11;
  variants[5].type = DataType::kFloat64;
  variants[6].op = ReduceOp::kMax;
  variants[7].max_segment_bytes = 64;
  variants[8].compression = WireCompression::kBf16;
  variants[9].participants = {0, 1, 2, 3};
  absl::flat_hash_set<CollectiveSpec> set(variants.begin(), variants.end());
  EXPECT_EQ(set.size(), variants.size());
  EXPECT_TRUE(set.contains(base));
}

}  // namespace
}  // namespace crosslink::collectives
