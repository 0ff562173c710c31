// Rank admission (runtime/src/rank_admission.cc) through the real gRPC coordinator and clients:
// a dead rank's new process rejoins only with the job's token and world, only after its old
// process was declared dead, only when a live rank admits it at a step boundary (a new epoch whose
// view carries its new address), and the old process's requests are refused afterwards.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kToken[] = "admission-token";
constexpr int kWorld = 3;

struct Job {
  std::unique_ptr<CoordinatorServer> server;
  std::vector<std::unique_ptr<CoordinatorClient>> ranks;
};

std::unique_ptr<CoordinatorClient> Client(const CoordinatorServer& server, int rank,
                                          const std::string& token = kToken) {
  CoordinatorClientOptions options;
  options.address = server.address();
  options.job_token = token;
  options.rank = rank;
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

// A job of kWorld registered ranks (heartbeat detection off: the test declares deaths itself).
Job StartJob() {
  CoordinatorOptions options;
  options.world_size = kWorld;
  options.job_token = kToken;
  options.heartbeat_interval = absl::InfiniteDuration();
  Job job;
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  job.server = *std::move(server);
  std::vector<std::thread> threads;
  for (int r = 0; r < kWorld; ++r) job.ranks.push_back(Client(*job.server, r));
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&job, r] {
      absl::StatusOr<World> world = job.ranks[r]->Register(
          kWorld, absl::StrCat("127.0.0.1:", 1000 + r), absl::Now() + absl::Seconds(30));
      EXPECT_TRUE(world.ok()) << world.status();
    });
  }
  for (std::thread& t : threads) t.join();
  return job;
}

TEST(RankAdmissionTest, ADeadRankRejoinsWhenALiveRankAdmitsItInANewEpoch) {
  Job job = StartJob();
  ASSERT_TRUE(job.server->ReportFailure(2, "rank 2 was killed by signal 9 (SIGKILL)").ok());
  ASSERT_EQ(job.server->membership().epoch, 2);

  auto rejoiner = Client(*job.server, 2);
  absl::StatusOr<World> world;
  std::thread rejoin(
      [&] { world = rejoiner->Rejoin(kWorld, "127.0.0.1:2222", absl::Now() + absl::Seconds(30)); });
  // The live ranks see it waiting, then one of them admits it at its step boundary.
  absl::StatusOr<Membership> seen;
  for (int i = 0; i < 200; ++i) {
    seen = job.ranks[0]->Heartbeat(absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(seen.ok()) << seen.status();
    if (!seen->joining_ranks.empty()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(seen->joining_ranks, ElementsAre(2));
  absl::StatusOr<Membership> admitted =
      job.ranks[0]->Admit(seen->epoch, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  rejoin.join();
  ASSERT_TRUE(world.ok()) << world.status();

  EXPECT_EQ(admitted->epoch, 3);
  EXPECT_THAT(admitted->alive_ranks, ElementsAre(0, 1, 2));
  EXPECT_TRUE(admitted->joining_ranks.empty());
  const AdmittedRank* entry = admitted->FindAdmitted(2);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->epoch, 3);
  EXPECT_EQ(entry->incarnation, 1);
  EXPECT_EQ(entry->data_address, "127.0.0.1:2222");
  EXPECT_EQ(world->membership.epoch, 3);
  EXPECT_EQ(world->data_addresses[2], "127.0.0.1:2222");
  EXPECT_EQ(rejoiner->incarnation(), 1);

  // A second Admit with the old epoch (another live rank at the same boundary) changes nothing.
  absl::StatusOr<Membership> again =
      job.ranks[1]->Admit(seen->epoch, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->epoch, 3);

  // The new process takes part in barriers; the old one (incarnation 0) is refused: stale.
  EXPECT_TRUE(rejoiner->Heartbeat(absl::Now() + absl::Seconds(5)).ok());
  absl::StatusOr<Membership> stale = job.ranks[2]->Heartbeat(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(), HasSubstr("stale"));
  EXPECT_EQ(job.ranks[2]->Barrier("step", absl::Now() + absl::Seconds(5), 3).code(),
            absl::StatusCode::kAborted);
}

TEST(RankAdmissionTest, AWrongTokenIsRefused) {
  Job job = StartJob();
  ASSERT_TRUE(job.server->ReportFailure(1, "rank 1 died").ok());
  auto impostor = Client(*job.server, 1, "not-the-token");
  absl::StatusOr<World> world =
      impostor->Rejoin(kWorld, "127.0.0.1:3333", absl::Now() + absl::Seconds(10));
  EXPECT_EQ(world.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(job.server->membership().joining_ranks.empty());
}

TEST(RankAdmissionTest, AnotherWorldSizeIsRefused) {
  Job job = StartJob();
  ASSERT_TRUE(job.server->ReportFailure(1, "rank 1 died").ok());
  auto rejoiner = Client(*job.server, 1);
  absl::StatusOr<World> world =
      rejoiner->Rejoin(kWorld + 1, "127.0.0.1:3333", absl::Now() + absl::Seconds(10));
  EXPECT_EQ(world.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(world.status().message(), HasSubstr("world size"));
}

TEST(RankAdmissionTest, ARankThatIsStillAliveCannotBeReplaced) {
  Job job = StartJob();
  auto second = Client(*job.server, 1);
  const absl::Time start = absl::Now();
  absl::StatusOr<World> world =
      second->Rejoin(kWorld, "127.0.0.1:3333", absl::Now() + absl::Seconds(1));
  EXPECT_EQ(world.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(world.status().message(), HasSubstr("alive"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(job.server->membership().epoch, 1);
}

TEST(RankAdmissionTest, ARejoinThatNobodyAdmitsEndsAtItsDeadlineAndWithdraws) {
  Job job = StartJob();
  ASSERT_TRUE(job.server->ReportFailure(2, "rank 2 died").ok());
  auto rejoiner = Client(*job.server, 2);
  absl::StatusOr<World> world =
      rejoiner->Rejoin(kWorld, "127.0.0.1:2222", absl::Now() + absl::Seconds(1));
  EXPECT_EQ(world.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(world.status().message(), HasSubstr("Quorum"));
  EXPECT_TRUE(job.server->membership().joining_ranks.empty());
  // An Admit afterwards admits nobody: the epoch stays.
  absl::StatusOr<Membership> m = job.ranks[0]->Admit(2, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->epoch, 2);
  EXPECT_THAT(m->alive_ranks, ElementsAre(0, 1));
}

TEST(RankAdmissionTest, AnAdmitFromAStaleEpochAdmitsNobody) {
  Job job = StartJob();
  ASSERT_TRUE(job.server->ReportFailure(2, "rank 2 died").ok());
  auto rejoiner = Client(*job.server, 2);
  absl::StatusOr<World> world;
  std::thread rejoin(
      [&] { world = rejoiner->Rejoin(kWorld, "127.0.0.1:2222", absl::Now() + absl::Seconds(3)); });
  // Epoch 1 is gone (rank 2's death made it 2): this Admit is from before the death.
  for (int i = 0; i < 100 && job.server->membership().joining_ranks.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::StatusOr<Membership> m = job.ranks[0]->Admit(1, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->epoch, 2);
  EXPECT_THAT(m->joining_ranks, ElementsAre(2));
  rejoin.join();
  EXPECT_EQ(world.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace crosslink::runtime
