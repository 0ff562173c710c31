// Alltoall: the pairwise-exchange plan (alltoall.cc) and its execution over an in-process mesh.
// Plans match send for receive for 1 to 9 ranks and odd counts and segments, even and uneven;
// every rank ends with exactly rank j's block for it in output block j, for every type, 1 to 6
// ranks, empty blocks and count 0; splits that disagree between ranks fail with kInvalidArgument
// on every rank well before the deadline instead of hanging.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "collective_test_util.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/collectives.h"
#include "crosslink/collectives/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Bytes;
using ::testing::HasSubstr;
using testing::Mesh;

CollectiveSpec EvenSpec(int n, size_t count, size_t seg, DataType type = DataType::kFloat32) {
  CollectiveSpec spec;
  spec.kind = CollectiveKind::kAlltoall;
  spec.world_size = n;
  spec.count = count;
  spec.type = type;
  spec.max_segment_bytes = seg;
  return spec;
}

// counts[i][j]: elements rank i sends to rank j. Random, with zeros.
std::vector<std::vector<size_t>> RandomSplits(int n, uint64_t seed, size_t max_count) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<size_t>> counts(n, std::vector<size_t>(n));
  for (auto& row : counts) {
    for (size_t& c : row) c = rng() % 4 == 0 ? 0 : rng() % (max_count + 1);
  }
  return counts;
}

// Rank r's spec for the split matrix: its row to send, its column to receive.
CollectiveSpec UnevenSpec(const std::vector<std::vector<size_t>>& counts, int r, size_t seg,
                          DataType type = DataType::kFloat32) {
  const int n = static_cast<int>(counts.size());
  CollectiveSpec spec = EvenSpec(n, 0, seg, type);
  spec.send_counts = counts[r];
  for (int j = 0; j < n; ++j) spec.recv_counts.push_back(counts[j][r]);
  for (size_t c : spec.recv_counts) spec.count += c;
  return spec;
}

TEST(AlltoallPlanTest, EvenPlansMatchEverySendWithItsReceive) {
  for (int n = 1; n <= 9; ++n) {
    for (size_t block : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{129}}) {
      for (size_t seg : {size_t{4}, size_t{12}, size_t{100}, size_t{512 << 10}}) {
        const CollectiveSpec spec = EvenSpec(n, block * n, seg);
        absl::StatusOr<Plan> plan = PlanCollective(spec);
        ASSERT_TRUE(plan.ok()) << plan.status();
        const std::string where = absl::StrFormat("n=%d block=%u seg=%u", n, block, seg);
        EXPECT_TRUE(PlanIsConsistent(*plan).ok()) << where << PlanIsConsistent(*plan);
        EXPECT_EQ(plan->algorithm, "pairwise_alltoall");
        EXPECT_EQ(plan->input_count, block * n);
        for (int r = 0; r < n; ++r) {
          // A copy of its own block, then n-1 stages: every peer once each way.
          const std::vector<Step>& steps = plan->ranks[r];
          ASSERT_FALSE(steps.empty());
          EXPECT_EQ(steps[0].op, StepOp::kCopy) << where;
          EXPECT_EQ(steps[0].offset, r * block);
          EXPECT_EQ(steps[0].src_offset, r * block);
          std::vector<size_t> sent(n, 0), received(n, 0);
          for (const Step& s : steps) {
            if (s.op == StepOp::kSendInput) sent[s.peer] += s.count;
            if (s.op == StepOp::kRecv) received[s.peer] += s.count;
            if (s.op == StepOp::kSendInput) {
              EXPECT_EQ(static_cast<int>(s.stage), (s.peer - r + n) % n) << where;
              EXPECT_LE(s.count * 4, std::max<size_t>(seg, 4)) << where;
            }
          }
          for (int j = 0; j < n; ++j) {
            EXPECT_EQ(sent[j], j == r ? 0 : block) << where;
            EXPECT_EQ(received[j], j == r ? 0 : block) << where;
          }
          // Per-rank planning gives rank r exactly the full plan's steps.
          absl::StatusOr<Plan> one = PlanCollective(spec, r);
          ASSERT_TRUE(one.ok()) << one.status();
          ASSERT_EQ(one->ranks[r].size(), steps.size());
          for (size_t i = 0; i < steps.size(); ++i) {
            EXPECT_EQ(one->ranks[r][i].op, steps[i].op);
            EXPECT_EQ(one->ranks[r][i].chunk, steps[i].chunk);
            EXPECT_EQ(one->ranks[r][i].src_offset, steps[i].src_offset);
          }
        }
      }
    }
  }
}

TEST(AlltoallPlanTest, UnevenPlansOfMatchingSplitsAreConsistent) {
  for (int n = 1; n <= 9; ++n) {
    for (size_t seg : {size_t{4}, size_t{20}, size_t{1 << 20}}) {
      const auto counts = RandomSplits(n, 77 + n * 1000 + seg, 23);
      // Plans are made one rank at a time; merged, they must match send for receive.
      Plan merged;
      for (int r = 0; r < n; ++r) {
        absl::StatusOr<Plan> plan = PlanCollective(UnevenSpec(counts, r, seg), r);
        ASSERT_TRUE(plan.ok()) << plan.status();
        if (r == 0) merged = *plan;
        merged.ranks[r] = plan->ranks[r];
        merged.count = std::max(merged.count, plan->count);
        merged.input_count = std::max(merged.input_count, plan->input_count);
      }
      EXPECT_TRUE(PlanIsConsistent(merged).ok())
          << absl::StrFormat("n=%d seg=%u: ", n, seg) << PlanIsConsistent(merged);
    }
  }
}

TEST(AlltoallPlanTest, DescribePlanShowsTheSendsFromTheInput) {
  absl::StatusOr<Plan> plan = PlanCollective(EvenSpec(3, 6, 1 << 20));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string text = DescribePlan(*plan);
  EXPECT_THAT(text, HasSubstr("pairwise_alltoall alltoall world=3 count=6"));
  EXPECT_THAT(text, HasSubstr("input_count=6"));
  EXPECT_THAT(text, HasSubstr("copy input[2,+2) -> [2,+2)"));  // rank 1's own block
  EXPECT_THAT(text, HasSubstr("send_input to 1 input[2,+2) chunk 1 stage 1"));  // rank 0 -> 1
  EXPECT_THAT(text, HasSubstr("recv from 2 [4,+2) chunk 1 stage 1"));
}

TEST(AlltoallPlanTest, BadSpecsAreRefusedNamingTheField) {
  // Even splits of a count the world size does not divide.
  EXPECT_EQ(PlanCollective(EvenSpec(3, 7, 64)).status().code(), absl::StatusCode::kInvalidArgument);
  // Uneven splits are one rank's: a plan for every rank cannot be made from them.
  const auto counts = RandomSplits(3, 5, 9);
  absl::StatusOr<Plan> all = PlanCollective(UnevenSpec(counts, 0, 64));
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(all.status().message(), HasSubstr("only_rank"));
  // Splits of the wrong length, or whose receive counts do not sum to count.
  CollectiveSpec spec = UnevenSpec(counts, 1, 64);
  spec.send_counts.pop_back();
  EXPECT_EQ(ValidateSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = UnevenSpec(counts, 1, 64);
  spec.count += 1;
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("sum to"));
  // A rank that sends itself something else than it expects from itself.
  spec = UnevenSpec(counts, 1, 64);
  spec.send_counts[1] += 1;
  absl::StatusOr<Plan> self = PlanCollective(spec, 1);
  EXPECT_EQ(self.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(self.status().message(), HasSubstr("itself"));
  // Splits belong to alltoall alone; alltoall runs over the whole group.
  spec = UnevenSpec(counts, 1, 64);
  spec.kind = CollectiveKind::kAllgather;
  EXPECT_EQ(ValidateSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = EvenSpec(3, 6, 64);
  spec.participants = {0, 2};
  EXPECT_EQ(ValidateSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  // Sums that overflow.
  spec = UnevenSpec(counts, 1, 64);
  spec.recv_counts[0] = ~size_t{0};
  EXPECT_EQ(ValidateSpec(spec).code(), absl::StatusCode::kInvalidArgument);
}

CollectiveOptions Options(size_t max_segment_bytes, absl::Duration timeout = absl::Seconds(30)) {
  CollectiveOptions options;
  options.max_segment_bytes = max_segment_bytes;
  options.deadline = absl::Now() + timeout;
  return options;
}

class AlltoallRunTest : public ::testing::TestWithParam<int> {};

TEST_P(AlltoallRunTest, EveryRankGetsEachPeersBlockForItExactlyForEveryType) {
  const int n = GetParam();
  Mesh mesh(n);
  uint64_t seed = 500;
  for (DataType type : testing::kAllTypes) {
    const size_t es = DataTypeSize(type);
    for (size_t block : {size_t{0}, size_t{1}, size_t{5}, size_t{300}}) {
      for (size_t seg : {size_t{16}, size_t{512 << 10}}) {
        const size_t count = block * n;
        std::vector<Bytes> inputs, outputs;
        for (int r = 0; r < n; ++r) {
          inputs.push_back(testing::RandomBuffer(type, count, ++seed));
          outputs.emplace_back(count * es, std::byte{0xCD});
        }
        const CollectiveOptions options = Options(seg);
        for (const absl::Status& s : mesh.Run([&](int r) {
               return Alltoall(mesh.Context(r), inputs[r].data(), outputs[r].data(), count, type,
                               options);
             })) {
          ASSERT_TRUE(s.ok()) << s;
        }
        for (int r = 0; r < n; ++r) {
          for (int j = 0; j < n; ++j) {
            const auto want = inputs[j].begin() + (r * block) * es;
            const auto got = outputs[r].begin() + (j * block) * es;
            ASSERT_TRUE(std::equal(want, want + block * es, got))
                << absl::StrFormat("n=%d %s block=%u seg=%u: rank %d's block from %d", n,
                                   DataTypeName(type), block, seg, r, j);
          }
        }
      }
    }
  }
}

TEST_P(AlltoallRunTest, UnevenSplitsLandAtTheirOffsets) {
  const int n = GetParam();
  Mesh mesh(n);
  for (DataType type : {DataType::kFloat32, DataType::kInt64, DataType::kFloat16}) {
    for (size_t seg : {size_t{8}, size_t{512 << 10}}) {
      const size_t es = DataTypeSize(type);
      const auto counts = RandomSplits(n, 9000 + n * 10 + seg, 40);
      std::vector<CollectiveSpec> specs;
      std::vector<Bytes> inputs, outputs;
      for (int r = 0; r < n; ++r) {
        specs.push_back(UnevenSpec(counts, r, seg, type));
        size_t in = 0;
        for (size_t c : specs[r].send_counts) in += c;
        inputs.push_back(testing::RandomBuffer(type, in, 31 * r + seg));
        outputs.emplace_back(specs[r].count * es, std::byte{0xCD});
      }
      const CollectiveOptions options = Options(seg);
      for (const absl::Status& s : mesh.Run([&](int r) {
             return Alltoall(mesh.Context(r), inputs[r].data(), specs[r].send_counts,
                             outputs[r].data(), specs[r].recv_counts, type, options);
           })) {
        ASSERT_TRUE(s.ok()) << s;
      }
      for (int r = 0; r < n; ++r) {
        size_t out_offset = 0;
        for (int j = 0; j < n; ++j) {
          size_t in_offset = 0;
          for (int k = 0; k < r; ++k) in_offset += counts[j][k];
          const auto want = inputs[j].begin() + in_offset * es;
          const auto got = outputs[r].begin() + out_offset * es;
          ASSERT_TRUE(std::equal(want, want + counts[j][r] * es, got)) << absl::StrFormat(
              "n=%d %s seg=%u: rank %d's block from %d", n, DataTypeName(type), seg, r, j);
          out_offset += counts[j][r];
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, AlltoallRunTest, ::testing::Range(1, 7));

// Rank 1 expects a different number of elements from rank 0 than rank 0 sends it: whichever way
// the disagreement goes, and whether the blocks take one segment or several, rank 1 fails with
// kInvalidArgument naming rank 0 long before the deadline, and no rank waits for the deadline. A
// rank whose own exchanges all matched (rank 2, and rank 0 when its frames were taken before rank
// 1 gave up) may finish; a rank that fails says kInvalidArgument or kAborted (told by rank 1), or
// kUnavailable when rank 1 closed the connection that still carried its unmatched frames.
TEST(AlltoallErrorTest, SplitsThatDisagreeFailWithoutWaitingForTheDeadline) {
  const int n = 3;
  for (size_t seg : {size_t{8}, size_t{512 << 10}}) {
    for (int delta : {-3, -2, 1, 2, 5}) {
      std::vector<std::vector<size_t>> counts(n, std::vector<size_t>(n, 4));
      std::vector<CollectiveSpec> specs;
      for (int r = 0; r < n; ++r) specs.push_back(UnevenSpec(counts, r, seg));
      // Rank 1 believes rank 0 sends it 4 + delta elements.
      specs[1].recv_counts[0] = 4 + delta;
      specs[1].count += delta;
      Mesh mesh(n);
      std::vector<Bytes> inputs, outputs;
      for (int r = 0; r < n; ++r) {
        inputs.push_back(testing::RandomBuffer(DataType::kFloat32, 4 * n, r + 1));
        outputs.emplace_back(specs[r].count * 4);
      }
      const absl::Time start = absl::Now();
      const CollectiveOptions options = Options(seg, absl::Seconds(20));
      const std::vector<absl::Status> statuses = mesh.Run([&](int r) {
        return Alltoall(mesh.Context(r), inputs[r].data(), specs[r].send_counts, outputs[r].data(),
                        specs[r].recv_counts, DataType::kFloat32, options);
      });
      const absl::Duration took = absl::Now() - start;
      const std::string where = absl::StrFormat("seg=%u delta=%d", seg, delta);
      EXPECT_LT(took, absl::Seconds(5)) << where;
      for (int r = 0; r < n; ++r) {
        EXPECT_TRUE(statuses[r].ok() || statuses[r].code() == absl::StatusCode::kInvalidArgument ||
                    statuses[r].code() == absl::StatusCode::kAborted ||
                    statuses[r].code() == absl::StatusCode::kUnavailable)
            << where << " rank " << r << ": " << statuses[r];
      }
      EXPECT_EQ(statuses[1].code(), absl::StatusCode::kInvalidArgument) << where << statuses[1];
      EXPECT_THAT(std::string(statuses[1].message()), HasSubstr("rank 0")) << where;
    }
  }
}

TEST(AlltoallErrorTest, BadBuffersAreRefusedBeforeAnythingIsSent) {
  Mesh mesh(1);
  std::vector<float> buffer(8, 1.0f);
  // In place (input and output overlapping) cannot work: receives would overwrite unsent input.
  absl::Status overlap = Alltoall(mesh.Context(0), buffer.data(), buffer.data() + 2, 4,
                                  DataType::kFloat32, Options(64));
  EXPECT_EQ(overlap.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(overlap.message()), HasSubstr("overlap"));
  absl::Status null_input =
      Alltoall(mesh.Context(0), nullptr, buffer.data(), 4, DataType::kFloat32, Options(64));
  EXPECT_EQ(null_input.code(), absl::StatusCode::kInvalidArgument);
  Mesh two(2);
  const size_t counts[] = {1, 2, 3};
  absl::Status length = Alltoall(two.Context(0), buffer.data(), counts, buffer.data() + 4,
                                 absl::MakeConstSpan(counts, 2), DataType::kFloat32, Options(64));
  EXPECT_EQ(length.code(), absl::StatusCode::kInvalidArgument);
  // World size 1, count 0: nothing to do, and nothing to fail.
  EXPECT_TRUE(Alltoall(mesh.Context(0), nullptr, nullptr, 0, DataType::kFloat64, Options(64)).ok());
}

}  // namespace
}  // namespace crosslink::collectives
