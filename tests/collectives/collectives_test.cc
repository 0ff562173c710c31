// ReduceScatter, Allgather, Broadcast and Barrier over an in-process mesh: every type, uneven and
// empty sizes, 1 to 7 ranks, against references; bit-identical blocks across ranks.
#include "crosslink/collectives/collectives.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/strings/str_format.h"
#include "collective_test_util.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Bytes;
using testing::Mesh;

CollectiveOptions Options(size_t max_segment_bytes) {
  CollectiveOptions options;
  options.max_segment_bytes = max_segment_bytes;
  options.deadline = absl::Now() + absl::Seconds(30);
  return options;
}

class CollectivesMatrixTest : public ::testing::TestWithParam<int> {
 protected:
  std::vector<size_t> Counts() const {
    const int n = GetParam();
    return {0, 1, static_cast<size_t>(n > 1 ? n - 1 : 2), static_cast<size_t>(3 * n + 2), 517};
  }
};

TEST_P(CollectivesMatrixTest, ReduceScatterLeavesEachRankItsReducedBlock) {
  const int n = GetParam();
  Mesh mesh(n);
  uint64_t seed = 0;
  for (DataType type : testing::kAllTypes) {
    for (ReduceOp op : testing::kAllOps) {
      for (size_t count : Counts()) {
        for (size_t seg : {size_t{512 << 10}, size_t{16}}) {
          std::vector<Bytes> inputs;
          for (int r = 0; r < n; ++r) inputs.push_back(testing::RandomBuffer(type, count, ++seed));
          std::vector<Bytes> buffers = inputs;
          const CollectiveOptions options = Options(seg);
          for (const absl::Status& s : mesh.Run([&](int r) {
                 return ReduceScatter(mesh.Context(r), buffers[r].data(), count, type, op, options);
               })) {
            ASSERT_TRUE(s.ok()) << s;
          }
          // Same order as the ring allreduce's reduce-scatter half.
          const Bytes expected = testing::RingReference(inputs, type, op, count);
          const size_t es = DataTypeSize(type);
          for (int r = 0; r < n; ++r) {
            const Range block = BlockRange(count, n, r);
            // std::equal, not memcmp: count 0 leaves data() null, which memcmp must not get.
            const auto got = buffers[r].begin() + block.offset * es;
            ASSERT_TRUE(
                std::equal(got, got + block.count * es, expected.begin() + block.offset * es))
                << absl::StrFormat("n=%d %s %s count=%u seg=%u rank %d", n, DataTypeName(type),
                                   ReduceOpName(op), count, seg, r);
          }
        }
      }
    }
  }
}

TEST_P(CollectivesMatrixTest, AllgatherAssemblesEveryRanksBlockInPlaceAndOutOfPlace) {
  const int n = GetParam();
  Mesh mesh(n);
  uint64_t seed = 1000;
  for (DataType type : testing::kAllTypes) {
    for (size_t count : Counts()) {
      for (bool in_place : {true, false}) {
        const size_t es = DataTypeSize(type);
        const Bytes expected = testing::RandomBuffer(type, count, ++seed);
        std::vector<Bytes> outputs(n, Bytes(count * es, std::byte{0xAB}));
        std::vector<Bytes> inputs(n);
        for (int r = 0; r < n; ++r) {
          const Range block = BlockRange(count, n, r);
          inputs[r].assign(expected.begin() + block.offset * es,
                           expected.begin() + (block.offset + block.count) * es);
          if (in_place && block.count > 0) {
            std::memcpy(outputs[r].data() + block.offset * es, inputs[r].data(), block.count * es);
          }
        }
        const CollectiveOptions options = Options(12);
        for (const absl::Status& s : mesh.Run([&](int r) {
               const void* input = in_place
                                       ? outputs[r].data() + BlockRange(count, n, r).offset * es
                                       : static_cast<const void*>(inputs[r].data());
               return Allgather(mesh.Context(r), input, outputs[r].data(), count, type, options);
             })) {
          ASSERT_TRUE(s.ok()) << s;
        }
        for (int r = 0; r < n; ++r) {
          ASSERT_EQ(outputs[r], expected) << absl::StrFormat(
              "n=%d %s count=%u in_place=%d rank %d", n, DataTypeName(type), count, in_place, r);
        }
      }
    }
  }
}

TEST_P(CollectivesMatrixTest, BroadcastCopiesTheRootsBufferFromEveryRoot) {
  const int n = GetParam();
  Mesh mesh(n);
  uint64_t seed = 2000;
  for (DataType type : testing::kAllTypes) {
    for (size_t count : Counts()) {
      for (int root = 0; root < n; ++root) {
        std::vector<Bytes> buffers;
        for (int r = 0; r < n; ++r) buffers.push_back(testing::RandomBuffer(type, count, ++seed));
        const Bytes expected = buffers[root];
        const CollectiveOptions options = Options(root % 2 ? 10 : 512 << 10);
        for (const absl::Status& s : mesh.Run([&](int r) {
               return Broadcast(mesh.Context(r), buffers[r].data(), count, type, root, options);
             })) {
          ASSERT_TRUE(s.ok()) << s;
        }
        for (int r = 0; r < n; ++r) {
          ASSERT_EQ(buffers[r], expected) << absl::StrFormat("n=%d %s count=%u root=%d rank %d", n,
                                                             DataTypeName(type), count, root, r);
        }
      }
    }
  }
}

TEST_P(CollectivesMatrixTest, BarrierReleasesNoRankBeforeEveryRankEntered) {
  const int n = GetParam();
  Mesh mesh(n);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> entered{0};
    std::atomic<int> early{0};
    for (const absl::Status& s : mesh.Run([&](int r) {
           entered.fetch_add(1);
           absl::Status status = Barrier(mesh.Context(r), Options(64));
           if (entered.load() != n) early.fetch_add(1);
           return status;
         })) {
      ASSERT_TRUE(s.ok()) << s;
    }
    EXPECT_EQ(early.load(), 0) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, CollectivesMatrixTest, ::testing::Values(1, 2, 3, 4, 7));

}  // namespace
}  // namespace crosslink::collectives
