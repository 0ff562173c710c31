// The executor's failure behaviour over an in-process mesh: ranks that disagree, a rank that
// never joins, a connection closed mid-collective, a corrupted frame. Every rank must return
// within the deadline with a status code users can act on and a message naming the ranks.
#include "crosslink/collectives/executor.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "collective_test_util.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/collectives.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Bytes;
using ::testing::HasSubstr;
using testing::Mesh;

// Rank `changed` calls with different arguments; every rank must fail with kInvalidArgument, and
// each message must name this rank and another.
void ExpectDisagreementDetected(int n, AllreduceAlgorithm algorithm, int changed, bool change_count,
                                bool change_type, bool change_op) {
  Mesh mesh(n);
  const size_t count = 100;
  std::vector<Bytes> buffers(n, Bytes(count * 8 + 64));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  const absl::Time start = absl::Now();
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveOptions options;
    options.algorithm = algorithm;
    options.max_segment_bytes = 64;
    options.deadline = deadline;
    const bool odd = r == changed;
    return Allreduce(mesh.Context(r), buffers[r].data(), odd && change_count ? count + 8 : count,
                     odd && change_type ? DataType::kInt32 : DataType::kFloat32,
                     odd && change_op ? ReduceOp::kMax : ReduceOp::kSum, options);
  });
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(5)) << "disagreement should be detected long before the deadline";
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(statuses[r].code(), absl::StatusCode::kInvalidArgument)
        << "rank " << r << ": " << statuses[r];
    EXPECT_THAT(std::string(statuses[r].message()), HasSubstr(absl::StrCat("rank ", r, ":")));
  }
}

TEST(ExecutorFailureTest, MismatchedCountTypeOrOpFailsEveryRankWithInvalidArgument) {
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    for (int n : {2, 3, 4, 7}) {
      ExpectDisagreementDetected(n, algorithm, n - 1, true, false, false);
      ExpectDisagreementDetected(n, algorithm, 0, false, true, false);
      ExpectDisagreementDetected(n, algorithm, n / 2, false, false, true);
    }
  }
}

TEST(ExecutorFailureTest, MismatchedMessageNamesBothRanks) {
  Mesh mesh(3);
  std::vector<Bytes> buffers(3, Bytes(400));
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.deadline = absl::Now() + absl::Seconds(10);
    return Allreduce(mesh.Context(r), buffers[r].data(), r == 1 ? 50 : 40, DataType::kFloat32,
                     ReduceOp::kSum, options);
  });
  // Rank 2 receives from rank 1, the odd one, and must say so.
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(statuses[2].message()), HasSubstr("rank 2:"));
  EXPECT_THAT(std::string(statuses[2].message()), HasSubstr("rank 1"));
  // Rank 0 hears it second hand and names the detector and the rank at fault.
  EXPECT_EQ(statuses[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(statuses[0].message()), HasSubstr("rank 0:"));
}

TEST(ExecutorFailureTest, RankThatNeverJoinsIsNamedByEveryOtherRankAtTheDeadline) {
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    const int n = 4;
    const int missing = 3;
    Mesh mesh(n);
    std::vector<Bytes> buffers(n, Bytes(4 * 1000));
    const absl::Duration timeout = absl::Milliseconds(800);
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<absl::Status> statuses = mesh.Run(
        [&](int r) {
          CollectiveOptions options;
          options.algorithm = algorithm;
          options.max_segment_bytes = 256;
          options.deadline = deadline;
          return Allreduce(mesh.Context(r), buffers[r].data(), 1000, DataType::kFloat32,
                           ReduceOp::kSum, options);
        },
        {0, 1, 2});
    const absl::Time end = absl::Now();
    EXPECT_LT(end, deadline + absl::Milliseconds(500)) << "ranks returned long after the deadline";
    for (int r = 0; r < n; ++r) {
      if (r == missing) continue;
      EXPECT_EQ(statuses[r].code(), absl::StatusCode::kDeadlineExceeded)
          << "rank " << r << ": " << statuses[r];
      EXPECT_THAT(std::string(statuses[r].message()), HasSubstr("rank 3"))
          << "rank " << r << " should name the missing rank: " << statuses[r];
    }
  }
}

// Passes everything through to `inner`, but closes it on the `close_at`-th send.
class ClosingConnection : public Connection {
 public:
  ClosingConnection(std::unique_ptr<Connection> inner, int close_at)
      : inner_(std::move(inner)), remaining_(close_at) {}
  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override {
    if (remaining_.fetch_sub(1) == 1) inner_->Close();
    return inner_->Send(header, payload);
  }
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override {
    return inner_->Recv(buffer);
  }
  void Close(absl::Status reason) override { inner_->Close(std::move(reason)); }
  absl::Status status() const override { return inner_->status(); }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<Connection> inner_;
  std::atomic<int> remaining_;
};

TEST(ExecutorFailureTest, ConnectionClosedMidCollectiveGivesUnavailableNamingThePeer) {
  const int n = 4;
  Mesh mesh(n);
  // Rank 1's connection to rank 2 (its ring successor) closes at its 5th send.
  mesh.Replace(1, 2, std::make_unique<ClosingConnection>(mesh.Take(1, 2), 5));
  std::vector<Bytes> buffers(n, Bytes(4 * 4000));
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.max_segment_bytes = 64;
    options.deadline = deadline;
    return Allreduce(mesh.Context(r), buffers[r].data(), 4000, DataType::kFloat32, ReduceOp::kSum,
                     options);
  });
  EXPECT_LT(absl::Now(), deadline) << "a closed connection must not cost the whole deadline";
  EXPECT_EQ(statuses[1].code(), absl::StatusCode::kUnavailable) << statuses[1];
  EXPECT_THAT(std::string(statuses[1].message()), HasSubstr("rank 2"));
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kUnavailable) << statuses[2];
  EXPECT_THAT(std::string(statuses[2].message()), HasSubstr("rank 1"));
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(statuses[r].code(), absl::StatusCode::kUnavailable)
        << "rank " << r << ": " << statuses[r];
  }
}

TEST(ExecutorFailureTest, CorruptedFrameGivesDataLossOnTheReceiver) {
  const int n = 3;
  Mesh mesh(n);
  ASSERT_TRUE(CorruptNextReceiveForTesting(*mesh.connection(2, 1)));
  std::vector<Bytes> buffers(n, Bytes(4 * 300));
  std::vector<absl::Status> statuses = mesh.Run([&](int r) {
    CollectiveOptions options;
    options.algorithm = AllreduceAlgorithm::kRing;
    options.deadline = absl::Now() + absl::Seconds(5);
    return Allreduce(mesh.Context(r), buffers[r].data(), 300, DataType::kFloat32, ReduceOp::kSum,
                     options);
  });
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kDataLoss) << statuses[2];
  EXPECT_THAT(std::string(statuses[2].message()), HasSubstr("rank 1"));
  // The others' frames were intact: they fail (kAborted from rank 2's abort frame, or
  // kUnavailable where rank 2 closed the connection first), never with kDataLoss.
  for (int r = 0; r < 2; ++r) {
    EXPECT_FALSE(statuses[r].ok()) << "rank " << r;
    EXPECT_NE(statuses[r].code(), absl::StatusCode::kDataLoss)
        << "rank " << r << ": " << statuses[r];
  }
}

// A plan over some of a job's ranks: plan rank i is job rank kJobRanks[i]. Runs a ring allreduce
// of `count` elements (`odd_count` on plan rank `odd`) by the plan ranks in `running`, each passing
// the job ranks as ExecuteArgs::rank_names, and returns every plan rank's status.
constexpr int kJobRanks[] = {5, 9, 2};

std::vector<absl::Status> RunNamedRing(Mesh& mesh, int odd, size_t odd_count, absl::Time deadline,
                                       std::vector<int> running = {}) {
  const size_t count = 40;
  std::vector<Bytes> buffers(3, Bytes(4 * std::max(count, odd_count)));
  return mesh.Run(
      [&](int r) -> absl::Status {
        CollectiveSpec request;
        request.world_size = 3;
        request.count = r == odd ? odd_count : count;
        absl::StatusOr<Plan> plan = PlanRingAllreduce(request);
        if (!plan.ok()) return plan.status();
        std::vector<Connection*> connections;
        for (int p = 0; p < 3; ++p) connections.push_back(mesh.connection(r, p));
        ExecuteArgs args;
        args.plan = &*plan;
        args.rank = r;
        args.connections = connections;
        args.job_id = 42;
        args.data = buffers[r].data();
        args.deadline = deadline;
        args.rank_names = kJobRanks;
        return ExecutePlan(args);
      },
      std::move(running));
}

TEST(ExecutorFailureTest, MessagesNameJobRanksWhenThePlanRunsOverASubsetOfThem) {
  Mesh mesh(3);
  // Plan rank 1, job rank 9, disagrees on the count.
  std::vector<absl::Status> statuses = RunNamedRing(mesh, 1, 50, absl::Now() + absl::Seconds(10));
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(statuses[r].code(), absl::StatusCode::kInvalidArgument) << statuses[r];
    const std::string message(statuses[r].message());
    EXPECT_THAT(message, ::testing::StartsWith(absl::StrCat("rank ", kJobRanks[r], ":")));
    // Plan rank 1 has no job rank 1: a "rank 1" would be a plan index leaking out.
    EXPECT_THAT(message, ::testing::Not(HasSubstr("rank 1"))) << message;
  }
  // Plan rank 2 receives from the odd rank; plan rank 0 hears of it through plan rank 2.
  EXPECT_THAT(std::string(statuses[2].message()), HasSubstr("rank 9"));
  EXPECT_THAT(std::string(statuses[0].message()), HasSubstr("rank 9"));
  // The odd rank itself sees plan rank 0's frame disagree with its own.
  EXPECT_THAT(std::string(statuses[1].message()), HasSubstr("rank 5"));
}

TEST(ExecutorFailureTest, WaitChainNamesTheJobRankThatNeverJoined) {
  Mesh mesh(3);
  // Plan rank 1, job rank 9, never runs: plan rank 2 waits for it, and plan rank 0 for plan rank 2.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(800);
  std::vector<absl::Status> statuses = RunNamedRing(mesh, -1, 40, deadline, {0, 2});
  for (int r : {0, 2}) {
    EXPECT_EQ(statuses[r].code(), absl::StatusCode::kDeadlineExceeded) << statuses[r];
    const std::string message(statuses[r].message());
    EXPECT_THAT(message, ::testing::StartsWith(absl::StrCat("rank ", kJobRanks[r], ":")));
    EXPECT_THAT(message, HasSubstr("rank 9")) << message;
    EXPECT_THAT(message, ::testing::Not(HasSubstr("rank 1"))) << message;
  }
}

// Rank 0's part of a 3-rank ring allreduce of 10 floats over `connections`.
absl::Status ExecuteRankZero(absl::Span<Connection* const> connections,
                             absl::Span<const int> rank_names = {}) {
  CollectiveSpec request;
  request.world_size = 3;
  request.count = 10;
  absl::StatusOr<Plan> plan = PlanRingAllreduce(request);
  if (!plan.ok())
    return absl::InternalError(absl::StrCat("planning failed: ", plan.status().ToString()));
  std::vector<float> data(10);
  ExecuteArgs args;
  args.plan = &*plan;
  args.rank = 0;
  args.connections = connections;
  args.data = data.data();
  args.deadline = absl::Now() + absl::Seconds(1);
  args.rank_names = rank_names;
  return ExecutePlan(args);
}

TEST(ExecutorTest, RejectsRankNamesThatDoNotCoverThePlan) {
  Mesh mesh(3);
  std::vector<Connection*> connections;
  for (int p = 0; p < 3; ++p) connections.push_back(mesh.connection(0, p));
  const int names[] = {5, 9};
  EXPECT_EQ(ExecuteRankZero(connections, names).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExecutorTest, RejectsAPlanThatNeedsAMissingConnection) {
  std::vector<Connection*> none(3, nullptr);
  EXPECT_EQ(ExecuteRankZero(none).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crosslink::collectives
