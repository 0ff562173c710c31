// A job's collectives continue when its coordinator is killed and restarted mid-job (same port,
// same token), at a membership epoch that never goes down; a coordinator that never comes back
// fails the collectives after coordinator_timeout with a clear error instead of hanging.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;
constexpr int kRanks = 3;
constexpr char kToken[] = "communicator-restart-token";

CoordinatorOptions Coordinator() {
  CoordinatorOptions o;
  o.world_size = kRanks;
  o.job_token = kToken;
  o.job_id = "communicator-restart";
  o.heartbeat_interval = absl::Milliseconds(200);
  o.heartbeat_miss_count = 50;  // 10 s: generous on a loaded machine
  return o;
}

CommunicatorOptions RankOptions(int port, int rank, absl::Duration coordinator_timeout) {
  CommunicatorOptions o;
  o.rank = rank;
  o.world_size = kRanks;
  o.coordinator_address = absl::StrCat("127.0.0.1:", port);
  o.job_token = kToken;
  o.setup_timeout = absl::Seconds(60);
  o.elastic = true;
  o.coordinator_timeout = coordinator_timeout;
  return o;
}

// One sum allreduce of step-dependent values, checked.
absl::Status Step(Communicator& comm, int step) {
  std::vector<float> data(1024, static_cast<float>(comm.rank() + step));
  CollectiveOptions options;
  options.timeout = absl::Seconds(60);
  absl::Status s = comm.Allreduce(data.data(), data.size(), collectives::DataType::kFloat32,
                                  collectives::ReduceOp::kSum, options);
  if (!s.ok()) return s;
  const float expected = static_cast<float>(kRanks * step + kRanks * (kRanks - 1) / 2);
  for (float v : data) {
    if (v != expected) return absl::InternalError(absl::StrCat("got ", v, " want ", expected));
  }
  return absl::OkStatus();
}

TEST(CommunicatorCoordinatorRestartTest, CollectivesContinueAcrossACoordinatorRestart) {
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(Coordinator());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  absl::Barrier* killed = new absl::Barrier(kRanks + 1);
  absl::Barrier* restarted = new absl::Barrier(kRanks + 1);
  std::vector<absl::Status> results(kRanks);
  std::vector<int64_t> quorum_epochs(kRanks, -1);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      absl::StatusOr<std::unique_ptr<Communicator>> comm =
          Communicator::Create(RankOptions(port, r, absl::Seconds(60)));
      bool waited = false;
      const auto fail = [&](absl::Status s) {
        results[r] = s;
        if (!waited) {
          killed->Block();
          restarted->Block();
        }
      };
      if (!comm.ok()) return fail(comm.status());
      for (int step = 0; step < 3; ++step) {
        if (absl::Status s = Step(**comm, step); !s.ok()) return fail(s);
      }
      killed->Block();
      // The coordinator is down: the data plane carries on.
      for (int step = 3; step < 6; ++step) {
        if (absl::Status s = Step(**comm, step); !s.ok()) {
          waited = true;
          restarted->Block();
          results[r] = s;
          return;
        }
      }
      waited = true;
      restarted->Block();
      // A coordinator call (the quorum) after the restart, then more collectives.
      absl::StatusOr<Quorum> q = (*comm)->Quorum(absl::Now() + absl::Seconds(60));
      if (!q.ok()) {
        results[r] = q.status();
        return;
      }
      quorum_epochs[r] = q->epoch;
      for (int step = 6; step < 9; ++step) {
        if (absl::Status s = Step(**comm, step); !s.ok()) {
          results[r] = s;
          return;
        }
      }
      if ((*comm)->membership().epoch < 1) results[r] = absl::InternalError("epoch went down");
    });
  }
  killed->Block();
  (*server).reset();  // The coordinator dies mid-job, without a state file.
  absl::SleepFor(absl::Seconds(1));
  CoordinatorOptions again = Coordinator();
  again.port = port;
  for (int i = 0; i < 100 && !(server = CoordinatorServer::Start(again)).ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(server.ok()) << server.status();
  restarted->Block();
  for (std::thread& t : threads) t.join();
  delete killed;
  delete restarted;
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r];
    EXPECT_EQ(quorum_epochs[r], 1) << "rank " << r;  // the epoch before the kill, not 0
  }
  EXPECT_EQ((*server)->membership().epoch, 1);
  EXPECT_EQ((*server)->membership().alive_ranks.size(), static_cast<size_t>(kRanks));
}

TEST(CommunicatorCoordinatorRestartTest, ALostCoordinatorFailsCollectivesWithAClearError) {
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(Coordinator());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::vector<std::unique_ptr<Communicator>> comms(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      absl::StatusOr<std::unique_ptr<Communicator>> comm =
          Communicator::Create(RankOptions(port, r, absl::Seconds(1)));
      ASSERT_TRUE(comm.ok()) << comm.status();
      comms[r] = *std::move(comm);
    });
  }
  for (std::thread& t : threads) t.join();
  for (auto& c : comms) ASSERT_NE(c, nullptr);
  (*server).reset();
  absl::SleepFor(absl::Seconds(4));  // past the 1 s coordinator timeout
  threads.clear();
  std::vector<absl::Status> results(kRanks);
  const absl::Time start = absl::Now();
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] { results[r] = Step(*comms[r], 0); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));  // not the 60 s collective deadline
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_FALSE(results[r].ok()) << "rank " << r;
    EXPECT_THAT(results[r].message(), HasSubstr("lost the job coordinator")) << results[r];
  }
}

}  // namespace
}  // namespace crosslink::runtime
