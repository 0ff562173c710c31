// The pure parts of the hierarchical allreduce: which ranks share a node and which form the
// cross-node groups, the equal shards NCCL needs, and the hex form of an NCCL id.
#include "crosslink/runtime/node_layout.h"

#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::ElementsAre;

TEST(NodeLayoutTest, BlockNumberingGivesNodeAndGroups) {
  // 3 nodes of 4 GPUs: rank 6 is GPU 2 of node 1.
  absl::StatusOr<NodeLayout> layout = MakeNodeLayout(6, 12, 2, 4);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->node, 1);
  EXPECT_EQ(layout->num_nodes, 3);
  EXPECT_THAT(layout->NodeRanks(), ElementsAre(4, 5, 6, 7));
  EXPECT_THAT(layout->CrossNodeRanks(), ElementsAre(2, 6, 10));
  EXPECT_EQ(layout->CrossNodeRanks()[layout->node], 6);
}

TEST(NodeLayoutTest, EveryRankIsInExactlyOneNodeAndOneGroup) {
  const int g = 3, world = 9;
  std::multiset<int> in_nodes, in_groups;
  for (int rank = 0; rank < world; ++rank) {
    absl::StatusOr<NodeLayout> layout = MakeNodeLayout(rank, world, rank % g, g);
    ASSERT_TRUE(layout.ok()) << layout.status();
    // Count each node's and each group's members once, from their first member.
    if (layout->local_rank == 0) {
      for (int r : layout->NodeRanks()) in_nodes.insert(r);
    }
    if (layout->node == 0) {
      for (int r : layout->CrossNodeRanks()) in_groups.insert(r);
    }
  }
  for (int rank = 0; rank < world; ++rank) {
    EXPECT_EQ(in_nodes.count(rank), 1u) << rank;
    EXPECT_EQ(in_groups.count(rank), 1u) << rank;
  }
}

TEST(NodeLayoutTest, OneGpuPerNodeMakesTheJobTheGroup) {
  absl::StatusOr<NodeLayout> layout = MakeNodeLayout(2, 4, 0, 1);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->num_nodes, 4);
  EXPECT_THAT(layout->CrossNodeRanks(), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(layout->NodeRanks(), ElementsAre(2));
}

TEST(NodeLayoutTest, RefusesLayoutsItCannotDerive) {
  // Round-robin placement (mpirun --map-by node): rank 1 is local rank 0 of the second node.
  EXPECT_EQ(MakeNodeLayout(1, 4, 0, 2).status().code(), absl::StatusCode::kInvalidArgument);
  // Uneven nodes.
  EXPECT_EQ(MakeNodeLayout(0, 5, 0, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeNodeLayout(4, 4, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeNodeLayout(0, 4, 2, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeNodeLayout(0, 4, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NodeLayoutTest, ReadsTheLauncherEnvironment) {
  // torchrun on the second of two nodes with two GPUs each.
  const EnvMap torchrun = {{"RANK", "3"},
                           {"WORLD_SIZE", "4"},
                           {"LOCAL_RANK", "1"},
                           {"LOCAL_WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "sat0"},
                           {"MASTER_PORT", "29500"},
                           {"CROSSLINK_JOB_TOKEN", "t"}};
  absl::StatusOr<LaunchEnv> env = ParseLaunchEnv(torchrun);
  ASSERT_TRUE(env.ok()) << env.status();
  absl::StatusOr<NodeLayout> layout = NodeLayoutFromLaunchEnv(*env);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->node, 1);
  EXPECT_EQ(layout->local_size, 2);
  EXPECT_THAT(layout->CrossNodeRanks(), ElementsAre(1, 3));

  // Open MPI's local size, same job.
  const EnvMap ompi = {{"OMPI_COMM_WORLD_RANK", "2"},
                       {"OMPI_COMM_WORLD_SIZE", "4"},
                       {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                       {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                       {"MASTER_ADDR", "sat0"},
                       {"MASTER_PORT", "29500"},
                       {"CROSSLINK_JOB_TOKEN", "t"}};
  env = ParseLaunchEnv(ompi);
  ASSERT_TRUE(env.ok()) << env.status();
  layout = NodeLayoutFromLaunchEnv(*env);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->node, 1);
  EXPECT_EQ(layout->local_rank, 0);

  // Open MPI placing round-robin: refused, naming the launcher.
  const EnvMap round_robin = {{"OMPI_COMM_WORLD_RANK", "1"},
                              {"OMPI_COMM_WORLD_SIZE", "4"},
                              {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                              {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                              {"MASTER_ADDR", "sat0"},
                              {"MASTER_PORT", "29500"},
                              {"CROSSLINK_JOB_TOKEN", "t"}};
  env = ParseLaunchEnv(round_robin);
  ASSERT_TRUE(env.ok()) << env.status();
  layout = NodeLayoutFromLaunchEnv(*env);
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(layout.status().message().find("Open MPI"), std::string::npos) << layout.status();
}

TEST(ShardTest, ShardsAreEqualAndCoverTheBufferOnce) {
  for (size_t count : {0u, 1u, 7u, 8u, 9u, 1000u, 1001u}) {
    for (int parts : {1, 2, 3, 4, 8}) {
      const size_t shard = ShardElements(count, parts);
      EXPECT_GE(shard * parts, count) << count << "/" << parts;
      EXPECT_LT(shard * parts, count + parts) << "padding stays under one element per shard";
      size_t covered = 0;
      for (int i = 0; i < parts; ++i) {
        const ShardRange range = ShardOf(count, parts, i);
        EXPECT_EQ(range.offset, shard * i);
        EXPECT_LE(range.count, shard);
        if (range.count > 0) EXPECT_EQ(range.offset, covered) << "shards are contiguous";
        covered += range.count;
      }
      EXPECT_EQ(covered, count) << count << "/" << parts;
    }
  }
  EXPECT_EQ(ShardElements(10, 4), 3u);
  EXPECT_EQ(ShardOf(10, 4, 3).count, 1u);
  EXPECT_EQ(ShardOf(2, 4, 3).count, 0u);
}

TEST(HexTest, RoundTripsEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  const std::string hex = HexEncode(bytes);
  EXPECT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 6), "000102");
  EXPECT_EQ(hex.substr(508), "feff");
  absl::StatusOr<std::string> back = HexDecode(hex, bytes.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, bytes);
  // Upper case decodes too.
  back = HexDecode("ABff", 2);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, std::string("\xab\xff"));
}

TEST(HexTest, RefusesMalformedText) {
  EXPECT_EQ(HexDecode("abc", 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("abcd", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz", 1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crosslink::runtime
