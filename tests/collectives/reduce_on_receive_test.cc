// Reduce-on-receive (Connection::RecvPieces): over TCP and shared memory the executor hands a
// reduce's receive to the transport, which reduces each piece as it arrives. The results must be
// bit-identical to the staged path (a whole message in a slot, then reduced: the in-process
// transport's, and the references of collective_test_util.h, which reduce in the same order) for
// every type and op, with pieces smaller than a message and messages smaller than a piece; and a
// corrupt message must still fail the collective with kDataLoss naming the sender.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "collective_test_util.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/transport/shm_transport.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Bytes;
using ::testing::HasSubstr;
using testing::Mesh;

struct Transport {
  std::string name;
  bool shm = false;
  size_t piece_bytes = 256 << 10;  // the receivers' piece (ShmOptions / TcpOptions)
};

void PrintTo(const Transport& t, std::ostream* os) { *os << t.name; }

// A Mesh (one thread per rank) whose connections are `transport`'s, built through its contexts;
// the contexts live as long as the fixture.
class ReduceOnReceiveTest : public ::testing::TestWithParam<Transport> {
 protected:
  std::unique_ptr<Mesh> MakeMesh(int n) {
    const Transport& t = GetParam();
    contexts_.clear();
    for (int r = 0; r < n; ++r) {
      TcpOptions tcp;
      tcp.receive_piece_bytes = t.piece_bytes;
      if (t.shm) {
        ShmOptions shm;
        shm.tcp = tcp;
        shm.piece_bytes = t.piece_bytes;
        auto ctx = MakeShmContext(r, kJob, shm);
        EXPECT_TRUE(ctx.ok()) << ctx.status();
        if (!ctx.ok()) return nullptr;
        contexts_.push_back(*std::move(ctx));
      } else {
        auto ctx = MakeTcpContext(r, kJob, tcp);
        EXPECT_TRUE(ctx.ok()) << ctx.status();
        if (!ctx.ok()) return nullptr;
        contexts_.push_back(*std::move(ctx));
      }
    }
    auto mesh = std::make_unique<Mesh>(n, kJob);
    for (int r = 0; r < n; ++r) {
      for (int p = r + 1; p < n; ++p) {
        const absl::Time deadline = absl::Now() + absl::Seconds(10);
        auto dialled = contexts_[r]->Connect(p, contexts_[p]->address(), deadline);
        EXPECT_TRUE(dialled.ok()) << dialled.status();
        auto accepted = contexts_[p]->Accept(deadline);
        EXPECT_TRUE(accepted.ok()) << accepted.status();
        if (!dialled.ok() || !accepted.ok()) return nullptr;
        EXPECT_EQ(accepted->first, r);
        EXPECT_TRUE((*dialled)->ReceivesInPieces()) << (*dialled)->Describe();
        mesh->Replace(r, p, *std::move(dialled));
        mesh->Replace(p, r, std::move(accepted->second));
      }
    }
    return mesh;
  }

  static constexpr uint64_t kJob = 77;
  std::vector<std::unique_ptr<Context>> contexts_;
};

// Runs the allreduce on `mesh` and on an in-process mesh (the staged path) from the same inputs;
// both must equal the reference bit for bit.
void CheckAgainstStaged(Mesh& mesh, AllreduceAlgorithm algorithm, DataType type, ReduceOp op,
                        size_t count, size_t max_segment_bytes, uint64_t seed) {
  const int n = mesh.world_size();
  std::vector<Bytes> inputs;
  for (int r = 0; r < n; ++r) inputs.push_back(testing::RandomBuffer(type, count, seed * 131 + r));
  std::vector<Bytes> buffers = inputs, staged = inputs;
  CollectiveOptions options;
  options.algorithm = algorithm;
  options.max_segment_bytes = max_segment_bytes;
  options.deadline = absl::Now() + absl::Seconds(60);
  const std::string what = absl::StrFormat(
      "%s n=%d %s %s count=%u seg=%u", algorithm == AllreduceAlgorithm::kRing ? "ring" : "tree", n,
      DataTypeName(type), ReduceOpName(op), count, max_segment_bytes);
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    return Allreduce(mesh.Context(r), buffers[r].data(), count, type, op, options);
  });
  Mesh inproc(n);
  std::vector<absl::Status> staged_statuses = inproc.Run([&](int r) {
    return Allreduce(inproc.Context(r), staged[r].data(), count, type, op, options);
  });
  const Bytes expected = algorithm == AllreduceAlgorithm::kRing
                             ? testing::RingReference(inputs, type, op, count)
                             : testing::TreeReference(inputs, type, op, count);
  for (int r = 0; r < n; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << what << ": " << statuses[r];
    ASSERT_TRUE(staged_statuses[r].ok()) << what << ": " << staged_statuses[r];
    ASSERT_TRUE(buffers[r] == staged[r])
        << what << ": rank " << r << " differs from the staged path";
    ASSERT_TRUE(buffers[r] == expected) << what << ": rank " << r << " differs from the reference";
  }
}

TEST_P(ReduceOnReceiveTest, EveryTypeAndOpIsBitIdenticalToTheStagedPath) {
  std::unique_ptr<Mesh> mesh = MakeMesh(3);
  ASSERT_NE(mesh, nullptr);
  uint64_t seed = 1;
  for (DataType type : testing::kAllTypes) {
    for (ReduceOp op : testing::kAllOps) {
      // 70001 elements in 64 KiB segments: messages of several pieces where the piece is small,
      // and one message per segment smaller than a 256 KiB piece; 5 elements: tiny messages.
      for (size_t count : {size_t{70001}, size_t{5}}) {
        for (AllreduceAlgorithm algorithm :
             {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
          CheckAgainstStaged(*mesh, algorithm, type, op, count, 64 << 10, seed++);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// One large message per ring step (a segment limit above the block): pieces much smaller than the
// message, pulled from the sender's memory over shared memory.
TEST_P(ReduceOnReceiveTest, LargeSegmentsInManyPiecesMatchTheStagedPath) {
  std::unique_ptr<Mesh> mesh = MakeMesh(4);
  ASSERT_NE(mesh, nullptr);
  CheckAgainstStaged(*mesh, AllreduceAlgorithm::kRing, DataType::kFloat32, ReduceOp::kSum,
                     (4 << 20) / 4 + 3, 8 << 20, 7);
  CheckAgainstStaged(*mesh, AllreduceAlgorithm::kRing, DataType::kFloat64, ReduceOp::kMax,
                     (2 << 20) / 8, 8 << 20, 8);
}

TEST_P(ReduceOnReceiveTest, CorruptMessageFailsTheReceiverWithDataLossNamingTheSender) {
  std::unique_ptr<Mesh> mesh = MakeMesh(3);
  ASSERT_NE(mesh, nullptr);
  ASSERT_TRUE(CorruptNextReceiveForTesting(*mesh->connection(2, 1)));
  // 300000 floats in 1 MiB segments: the ring's first message from rank 1 to rank 2 is a
  // reduce of several pieces, the corruption in its first.
  const size_t count = 300000;
  std::vector<Bytes> buffers;
  for (int r = 0; r < 3; ++r)
    buffers.push_back(testing::RandomBuffer(DataType::kFloat32, count, r));
  std::vector<absl::Status> statuses = mesh->Run([&](int r) {
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.max_segment_bytes = 1 << 20;
    options.deadline = absl::Now() + absl::Seconds(10);
    return Allreduce(mesh->Context(r), buffers[r].data(), count, DataType::kFloat32, ReduceOp::kSum,
                     options);
  });
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kDataLoss) << statuses[2];
  EXPECT_THAT(std::string(statuses[2].message()), HasSubstr("corrupted frame from rank 1"));
  for (int r = 0; r < 2; ++r) {
    EXPECT_FALSE(statuses[r].ok()) << "rank " << r;
    EXPECT_NE(statuses[r].code(), absl::StatusCode::kDataLoss)
        << "rank " << r << ": " << statuses[r];
  }
}

INSTANTIATE_TEST_SUITE_P(
    Transports, ReduceOnReceiveTest,
    ::testing::Values(Transport{"tcp", false}, Transport{"shm", true},
                      // Pieces of 4 KiB: every segment of the suites above crosses in many.
                      Transport{"tcp_small_pieces", false, 4 << 10},
                      Transport{"shm_small_pieces", true, 4 << 10}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace crosslink::collectives
