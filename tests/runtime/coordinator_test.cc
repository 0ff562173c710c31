// The coordinator in-process with several clients on threads: rendezvous, token check, key-value
// store, barriers and failure detection, as a communicator relies on them.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

CoordinatorOptions Options(int world_size) {
  CoordinatorOptions o;
  o.world_size = world_size;
  o.job_token = kToken;
  o.job_id = "test-job";
  o.scenario_text = "constellation: walker 24/3/1\nranks: 4\n";
  return o;
}

std::unique_ptr<CoordinatorServer> StartServer(const CoordinatorOptions& options) {
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<CoordinatorClient> Client(const CoordinatorServer& server, int rank,
                                          std::string token = kToken) {
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client =
      CoordinatorClient::Create({server.address(), std::move(token), rank});
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

absl::Time In(absl::Duration d) { return absl::Now() + d; }

// Catches the one status a heartbeat thread reports through on_error.
class HeartbeatErrors {
 public:
  HeartbeatOptions Options(absl::Duration interval) {
    HeartbeatOptions hb;
    hb.interval = interval;
    hb.on_error = [this](const absl::Status& s) {
      error_ = s;
      reported_.Notify();
    };
    return hb;
  }
  // The reported status, or kDeadlineExceeded if none came within `timeout`.
  absl::Status Wait(absl::Duration timeout) {
    if (!reported_.WaitForNotificationWithTimeout(timeout)) {
      return absl::DeadlineExceededError("the heartbeat thread reported no error");
    }
    return error_;
  }

 private:
  absl::Notification reported_;
  absl::Status error_;
};

// Registers every rank of `clients` on its own thread; returns each rank's result.
std::vector<absl::StatusOr<World>> RegisterAll(
    const std::vector<std::unique_ptr<CoordinatorClient>>& clients, absl::Time deadline) {
  std::vector<absl::StatusOr<World>> worlds(clients.size(), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t r = 0; r < clients.size(); ++r) {
    threads.emplace_back([&, r] {
      worlds[r] = clients[r]->Register(static_cast<int>(clients.size()),
                                       "10.0.0." + std::to_string(r) + ":9000", deadline);
    });
  }
  for (std::thread& t : threads) t.join();
  return worlds;
}

TEST(CoordinatorTest, ServerBindsEphemeralLoopbackPort) {
  auto server = StartServer(Options(1));
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
}

TEST(CoordinatorTest, RendezvousGivesEveryRankTheSameWorld) {
  const CoordinatorOptions options = Options(4);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < 4; ++r) clients.push_back(Client(*server, r));
  const std::vector<absl::StatusOr<World>> worlds = RegisterAll(clients, In(absl::Seconds(30)));
  for (int r = 0; r < 4; ++r) {
    ASSERT_TRUE(worlds[r].ok()) << "rank " << r << ": " << worlds[r].status();
    const World& w = *worlds[r];
    EXPECT_EQ(w.job_id, "test-job");
    EXPECT_EQ(w.world_size, 4);
    EXPECT_EQ(w.scenario_text, options.scenario_text);
    EXPECT_THAT(w.data_addresses, ::testing::ElementsAre("10.0.0.0:9000", "10.0.0.1:9000",
                                                         "10.0.0.2:9000", "10.0.0.3:9000"));
    EXPECT_EQ(w.membership.epoch, 1);
    EXPECT_THAT(w.membership.alive_ranks, ::testing::ElementsAre(0, 1, 2, 3));
    EXPECT_TRUE(w.membership.dead_ranks.empty());
    EXPECT_EQ(w.heartbeat_interval_ms, 1000);
    EXPECT_EQ(w.heartbeat_miss_count, 3);
  }
}

TEST(CoordinatorTest, WrongTokenIsRefusedWithoutEchoingIt) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  const std::string wrong = "wrong-token-wrong-token";
  auto intruder = Client(*server, 0, wrong);
  const absl::StatusOr<World> world = intruder->Register(2, "x:1", In(absl::Seconds(5)));
  EXPECT_EQ(world.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(world.status().message(), HasSubstr("token"));
  EXPECT_THAT(world.status().message(), Not(HasSubstr(wrong)));
  EXPECT_THAT(world.status().message(), Not(HasSubstr(kToken)));
  EXPECT_EQ(intruder->KvSet("k", "v", In(absl::Seconds(5))).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->KvGet("k", In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->KvAdd("k", 1, In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->Heartbeat(In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->Barrier("b", In(absl::Seconds(5))).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->ReportFailure(1, "lie", In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->Shutdown("lie", In(absl::Seconds(5))).code(),
            absl::StatusCode::kUnauthenticated);
  // The refused calls changed nothing.
  EXPECT_EQ(server->membership().dead_ranks.size(), 0u);
  EXPECT_FALSE(server->WaitForShutdownRequest(absl::Now()));
}

TEST(CoordinatorTest, KvGetBlocksUntilKvSet) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  auto reader = Client(*server, 0);
  auto writer = Client(*server, 1);
  absl::StatusOr<std::string> got = absl::UnknownError("not run");
  std::thread t([&] { got = reader->KvGet("address/3", In(absl::Seconds(30))); });
  ASSERT_TRUE(
      writer->KvSet("address/3", std::string("10.1.2.3:7\0x", 12), In(absl::Seconds(5))).ok());
  t.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::string("10.1.2.3:7\0x", 12));  // Bytes, not C strings.
}

TEST(CoordinatorTest, KvGetFailsAtItsDeadline) {
  auto server = StartServer(Options(1));
  ASSERT_NE(server, nullptr);
  auto client = Client(*server, 0);
  const absl::Time start = absl::Now();
  const absl::StatusOr<std::string> got = client->KvGet("never", start + absl::Milliseconds(300));
  const absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(waited, absl::Milliseconds(150));
  EXPECT_LT(waited, absl::Seconds(5));
}

TEST(CoordinatorTest, KvAddIsAtomic) {
  auto server = StartServer(Options(8));
  ASSERT_NE(server, nullptr);
  constexpr int kThreads = 8, kAdds = 50;
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < kThreads; ++r) clients.push_back(Client(*server, r));
  absl::Mutex mu;
  std::vector<int64_t> seen;
  std::vector<std::thread> threads;
  for (int r = 0; r < kThreads; ++r) {
    threads.emplace_back([&, r] {
      for (int i = 0; i < kAdds; ++i) {
        absl::StatusOr<int64_t> v = clients[r]->KvAdd("counter", 1, In(absl::Seconds(10)));
        ASSERT_TRUE(v.ok()) << v.status();
        absl::MutexLock lock(&mu);
        seen.push_back(*v);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // Every increment saw a distinct value, and together they are exactly 1..N.
  const std::set<int64_t> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kAdds));
  EXPECT_EQ(*distinct.begin(), 1);
  EXPECT_EQ(*distinct.rbegin(), kThreads * kAdds);
  absl::StatusOr<std::string> text = clients[0]->KvGet("counter", In(absl::Seconds(5)));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::to_string(kThreads * kAdds));
  ASSERT_TRUE(clients[0]->KvSet("name", "not a number", In(absl::Seconds(5))).ok());
  EXPECT_EQ(clients[0]->KvAdd("name", 1, In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CoordinatorTest, RuntimePerCollectiveKeysExpireUserKeysStay) {
  // The runtime writes a few keys per collective; they expire transient_key_lifetime after their
  // last write (checked on later writes), while a program's own keys stay. The checks use the
  // client's clock around each call, which brackets the server's: a key written before T and
  // swept after T + lifetime is gone; one renewed after R and swept before R + lifetime stays.
  constexpr absl::Duration kLifetime = absl::Seconds(1);
  CoordinatorOptions options = Options(1);
  options.transient_key_lifetime = kLifetime;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto client = Client(*server, 0);
  ASSERT_TRUE(client->KvSet("crosslink/contact_aware/t/1", "12.5 0", In(absl::Seconds(5))).ok());
  ASSERT_TRUE(client->KvAdd("crosslink/partial/1/arrived", 1, In(absl::Seconds(5))).ok());
  ASSERT_TRUE(client->KvSet("user/step", "7", In(absl::Seconds(5))).ok());
  const absl::Time first_writes_done = absl::Now();
  // Halfway through its lifetime the partial counter is written again, which renews it.
  absl::SleepFor(first_writes_done + kLifetime / 2 - absl::Now());
  const absl::Time renew_start = absl::Now();
  ASSERT_TRUE(client->KvAdd("crosslink/partial/1/arrived", 1, In(absl::Seconds(5))).ok());
  // Past the first keys' lifetime, the next write sweeps them.
  absl::SleepFor(first_writes_done + kLifetime + absl::Milliseconds(100) - absl::Now());
  ASSERT_TRUE(client->KvSet("crosslink/contact_aware/t/2", "13.0 0", In(absl::Seconds(5))).ok());
  const absl::Time sweep_done = absl::Now();
  EXPECT_EQ(
      client->KvGet("crosslink/contact_aware/t/1", In(absl::Milliseconds(50))).status().code(),
      absl::StatusCode::kDeadlineExceeded);
  if (sweep_done - renew_start < kLifetime) {  // else this machine stalled too long to tell
    absl::StatusOr<std::string> renewed =
        client->KvGet("crosslink/partial/1/arrived", In(absl::Seconds(5)));
    ASSERT_TRUE(renewed.ok()) << renewed.status();
    EXPECT_EQ(*renewed, "2");
  }
  EXPECT_TRUE(client->KvGet("crosslink/contact_aware/t/2", In(absl::Seconds(5))).ok());
  absl::StatusOr<std::string> user = client->KvGet("user/step", In(absl::Seconds(5)));
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(*user, "7");
}

TEST(CoordinatorTest, KvQuotasRefuseTheWriteAndKeepServingOtherKeys) {
  CoordinatorOptions options = Options(1);
  options.max_kv_key_bytes = 16;
  options.max_kv_value_bytes = 32;
  options.max_kv_keys = 3;
  options.max_kv_total_bytes = 64;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto client = Client(*server, 0);
  ASSERT_TRUE(client->KvSet("a", "1", In(absl::Seconds(5))).ok());
  const auto expect_refused = [&](const absl::Status& s, absl::StatusCode code,
                                  std::string_view limit) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_THAT(s.message(), HasSubstr(limit));
    EXPECT_THAT(s.message(), HasSubstr("rank 0"));
  };
  // Too long a key or value: INVALID_ARGUMENT, also for KvAdd on a new key.
  const std::string long_key(100, 'k');
  expect_refused(client->KvSet(long_key, "1", In(absl::Seconds(5))),
                 absl::StatusCode::kInvalidArgument, "max_kv_key_bytes");
  expect_refused(client->KvAdd(long_key, 1, In(absl::Seconds(5))).status(),
                 absl::StatusCode::kInvalidArgument, "max_kv_key_bytes");
  expect_refused(client->KvSet("b", std::string(33, 'v'), In(absl::Seconds(5))),
                 absl::StatusCode::kInvalidArgument, "max_kv_value_bytes");
  // Total bytes (keys plus values): 2 + 31 = 33 held; another 1 + 31 would make 65 > 64.
  ASSERT_TRUE(client->KvSet("b", std::string(30, 'v'), In(absl::Seconds(5))).ok());
  expect_refused(client->KvSet("c", std::string(31, 'v'), In(absl::Seconds(5))),
                 absl::StatusCode::kResourceExhausted, "max_kv_total_bytes");
  // Overwriting counts the new size, not both: b shrinks, then a third key fits.
  ASSERT_TRUE(client->KvSet("b", "2", In(absl::Seconds(5))).ok());
  ASSERT_TRUE(client->KvAdd("c", 5, In(absl::Seconds(5))).ok());
  // Key count: a fourth new key is refused, by KvSet and by KvAdd; existing keys still update.
  expect_refused(client->KvSet("d", "1", In(absl::Seconds(5))),
                 absl::StatusCode::kResourceExhausted, "max_kv_keys");
  expect_refused(client->KvAdd("d", 1, In(absl::Seconds(5))).status(),
                 absl::StatusCode::kResourceExhausted, "max_kv_keys");
  ASSERT_TRUE(client->KvAdd("c", 1, In(absl::Seconds(5))).ok());
  // Refused writes left the store unchanged, and it still serves every key.
  EXPECT_EQ(client->KvGet("d", In(absl::Milliseconds(50))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client->KvGet("a", In(absl::Seconds(5))).value_or(""), "1");
  EXPECT_EQ(client->KvGet("b", In(absl::Seconds(5))).value_or(""), "2");
  EXPECT_EQ(client->KvGet("c", In(absl::Seconds(5))).value_or(""), "6");
}

TEST(CoordinatorTest, BarrierReleasesOnlyWhenEveryRankArrived) {
  auto server = StartServer(Options(3));
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < 3; ++r) clients.push_back(Client(*server, r));
  EXPECT_EQ(clients[0]->Barrier("early", In(absl::Seconds(5))).code(),
            absl::StatusCode::kFailedPrecondition);  // Before rendezvous.
  for (const auto& w : RegisterAll(clients, In(absl::Seconds(30)))) ASSERT_TRUE(w.ok());

  // One rank alone: the barrier cannot complete, and the error names the ranks that never came.
  const absl::Status partial = clients[0]->Barrier("partial", In(absl::Milliseconds(400)));
  EXPECT_EQ(partial.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(partial.message()), HasSubstr("[1, 2]"));

  // All three, twice in a row under the same name: each round releases everyone.
  for (int round = 0; round < 2; ++round) {
    std::vector<absl::Status> full(3);
    std::vector<std::thread> threads;
    for (int r = 0; r < 3; ++r) {
      threads.emplace_back(
          [&, r] { full[r] = clients[r]->Barrier("step", In(absl::Seconds(30))); });
    }
    for (std::thread& t : threads) t.join();
    for (int r = 0; r < 3; ++r) EXPECT_TRUE(full[r].ok()) << "round " << round << ": " << full[r];
  }
}

TEST(CoordinatorTest, SilentRankIsDeclaredDeadAndWaitingBarrierAborts) {
  CoordinatorOptions options = Options(3);
  // A 1.2 s failure window: CI once saw a survivor's heartbeat slip past a 300 ms window on a
  // loaded 2-core machine, declaring the wrong rank dead. The silent rank is still caught fast.
  options.heartbeat_interval = absl::Milliseconds(200);
  options.heartbeat_miss_count = 6;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < 3; ++r) clients.push_back(Client(*server, r));
  for (const auto& w : RegisterAll(clients, In(absl::Seconds(30)))) ASSERT_TRUE(w.ok());

  // Ranks 0 and 1 heartbeat and watch membership; rank 2 goes silent.
  absl::Mutex mu;
  std::vector<Membership> changes;
  absl::Notification rank2_dead_seen;
  for (int r = 0; r < 2; ++r) {
    HeartbeatOptions hb;
    hb.on_change = [&](const Membership& m) {
      absl::MutexLock lock(&mu);
      changes.push_back(m);
      if (m.FindDead(2) != nullptr && !rank2_dead_seen.HasBeenNotified()) {
        rank2_dead_seen.Notify();
      }
    };
    ASSERT_TRUE(clients[r]->StartHeartbeats(hb).ok());
  }
  const absl::Time start = absl::Now();
  std::vector<absl::Status> results(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back(
        // Epoch 1 (rendezvous): aborts whether the death lands before or after arrival.
        [&, r] { results[r] = clients[r]->Barrier("all", start + absl::Seconds(30), 1); });
  }
  for (std::thread& t : threads) t.join();
  const absl::Duration waited = absl::Now() - start;
  for (const absl::Status& s : results) {
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    EXPECT_THAT(s.message(), HasSubstr("rank 2 missed heartbeats"));
  }
  // 6 x 200 ms of silence, plus scheduling slack on a loaded machine; far below the deadline.
  EXPECT_GE(waited, absl::Milliseconds(1000));
  EXPECT_LT(waited, absl::Seconds(6));

  ASSERT_TRUE(rank2_dead_seen.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const Membership m = server->membership();
  EXPECT_EQ(m.epoch, 2);
  EXPECT_THAT(m.alive_ranks, ::testing::ElementsAre(0, 1));
  ASSERT_NE(m.FindDead(2), nullptr);
  EXPECT_EQ(m.FindDead(2)->epoch, 2);
  // The silent rank, coming back, learns it is out of the job.
  EXPECT_EQ(clients[2]->Heartbeat(In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kAborted);
  // A barrier in the epoch the job started in now fails at once; the survivors can go on in the
  // new epoch without the dead rank.
  EXPECT_EQ(clients[0]->Barrier("next", In(absl::Seconds(5)), /*epoch=*/1).code(),
            absl::StatusCode::kAborted);
  std::thread t([&] { results[1] = clients[1]->Barrier("next", In(absl::Seconds(30)), 2); });
  results[0] = clients[0]->Barrier("next", In(absl::Seconds(30)), 2);
  t.join();
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_TRUE(results[1].ok()) << results[1];
  for (auto& c : clients) c->StopHeartbeats();
}

TEST(CoordinatorTest, ReportedFailureAbortsBarrierAndNamesTheRank) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < 2; ++r) clients.push_back(Client(*server, r));
  for (const auto& w : RegisterAll(clients, In(absl::Seconds(30)))) ASSERT_TRUE(w.ok());
  // Rank 0 works in epoch 1 (the one Register gave it); the launcher reports rank 1 dead. Passing
  // the epoch makes the outcome independent of whether the report lands before or after rank 0
  // arrives.
  ASSERT_TRUE(server->ReportFailure(1, "rank 1 exited with status 9").ok());
  const absl::Status s = clients[0]->Barrier("c", In(absl::Seconds(5)), /*epoch=*/1);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("rank 1 exited with status 9"));
  const absl::StatusOr<Membership> m = clients[0]->Heartbeat(In(absl::Seconds(5)));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->epoch, 2);
  ASSERT_NE(m->FindDead(1), nullptr);
  EXPECT_EQ(m->FindDead(1)->reason, "rank 1 exited with status 9");
}

TEST(CoordinatorTest, RegisterFailsAfterTheRendezvousDeadline) {
  CoordinatorOptions options = Options(2);
  options.rendezvous_timeout = absl::Milliseconds(300);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto early = Client(*server, 0);
  auto late = Client(*server, 1);
  const absl::StatusOr<World> first = early->Register(2, "a:1", In(absl::Seconds(30)));
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(first.status().message(), HasSubstr("[1]"));  // Names the rank that never came.
  const absl::StatusOr<World> second = late->Register(2, "b:1", In(absl::Seconds(30)));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(CoordinatorTest, RegisterReturnsAtTheCallersDeadlineNamingMissingRanks) {
  auto server = StartServer(Options(3));
  ASSERT_NE(server, nullptr);
  auto client = Client(*server, 1);
  const absl::StatusOr<World> world = client->Register(3, "a:1", In(absl::Milliseconds(500)));
  EXPECT_EQ(world.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(world.status().message(), HasSubstr("rank 1"));
  EXPECT_THAT(world.status().message(), HasSubstr("[0, 2]"));
}

TEST(CoordinatorTest, RegisterRejectsBadRankAndWorldSize) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Client(*server, 5)->Register(2, "a:1", In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Client(*server, 0)->Register(3, "a:1", In(absl::Seconds(5))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CoordinatorTest, ShutdownWakesBlockedCallsWithUnavailable) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  auto waiter = Client(*server, 0);
  auto boss = Client(*server, 1);
  absl::StatusOr<std::string> got = absl::UnknownError("not run");
  std::thread t([&] { got = waiter->KvGet("never", In(absl::Seconds(30))); });
  ASSERT_TRUE(boss->Shutdown("training finished", In(absl::Seconds(5))).ok());
  t.join();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(server->WaitForShutdownRequest(In(absl::Seconds(5))));
}

TEST(CoordinatorTest, UnreachableCoordinatorIsUnavailable) {
  auto server = StartServer(Options(1));
  ASSERT_NE(server, nullptr);
  const std::string address = server->address();
  server.reset();  // Nothing listens there now.
  auto client = CoordinatorClient::Create({address, kToken, 0});
  ASSERT_TRUE(client.ok());
  const absl::Status s = (*client)->KvSet("k", "v", In(absl::Seconds(5)));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(address));
}

TEST(CoordinatorTest, HeartbeatErrorCallbackFiresWhenRankIsDeclaredDead) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < 2; ++r) clients.push_back(Client(*server, r));
  for (const auto& w : RegisterAll(clients, In(absl::Seconds(30)))) ASSERT_TRUE(w.ok());
  HeartbeatErrors errors;
  ASSERT_TRUE(clients[1]->StartHeartbeats(errors.Options(absl::Milliseconds(50))).ok());
  ASSERT_TRUE(server->ReportFailure(1, "rank 1 exited with status 1").ok());
  const absl::Status error = errors.Wait(absl::Seconds(10));
  EXPECT_EQ(error.code(), absl::StatusCode::kAborted);
  clients[1]->StopHeartbeats();
}

TEST(CoordinatorServerTest, SecondServerOnATakenPortFailsInsteadOfSharingIt) {
  CoordinatorOptions first_options;
  first_options.world_size = 2;
  first_options.job_token = "token-one";
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> first =
      CoordinatorServer::Start(first_options);
  ASSERT_TRUE(first.ok()) << first.status();

  CoordinatorOptions second_options = first_options;
  second_options.job_token = "token-two";
  second_options.port = (*first)->port();
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> second =
      CoordinatorServer::Start(second_options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

}  // namespace
}  // namespace crosslink::runtime
