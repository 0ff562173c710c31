// Coordinator faults (issue 11 item 4, issue 12): a coordinator that stops and restarts on the
// same address with the same token restores the job, from its state file or from its ranks'
// heartbeats, at a membership epoch that never goes down; a lost coordinator is reported after a
// bounded time and the heartbeats never stop silently; a corrupt or hostile state file is a clear
// error.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../runtime/src/coordinator_persistence.h"
#include "../../runtime/src/coordinator_state.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator.pb.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "restart-test-token-0123456789abcdef";

absl::Time In(absl::Duration d) { return absl::Now() + d; }

// A fresh folder for state files, removed at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/crosslink-coordinator-restart-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

CoordinatorOptions Options(int world_size, const std::filesystem::path& state_file = {}) {
  CoordinatorOptions o;
  o.world_size = world_size;
  o.job_token = kToken;
  o.job_id = "restart-test";
  o.state_file = state_file;
  // Short heartbeats, but a failure window a loaded 2-core machine cannot miss by accident.
  o.heartbeat_interval = absl::Milliseconds(100);
  o.heartbeat_miss_count = 50;
  return o;
}

std::unique_ptr<CoordinatorServer> StartServer(const CoordinatorOptions& options) {
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// The same port again: a restarted coordinator may find it in TIME_WAIT for a moment.
std::unique_ptr<CoordinatorServer> RestartServer(CoordinatorOptions options, int port) {
  options.port = port;
  const absl::Time deadline = In(absl::Seconds(20));
  while (true) {
    absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
    if (server.ok()) return *std::move(server);
    if (absl::Now() > deadline) {
      ADD_FAILURE() << server.status();
      return nullptr;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

std::unique_ptr<CoordinatorClient> Client(const std::string& address, int rank,
                                          absl::Duration retry = absl::ZeroDuration()) {
  CoordinatorClientOptions o;
  o.address = address;
  o.job_token = kToken;
  o.rank = rank;
  o.retry_unavailable_for = retry;
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Create(o);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

std::vector<std::unique_ptr<CoordinatorClient>> RegisteredClients(const CoordinatorServer& server,
                                                                  int n) {
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < n; ++r) clients.push_back(Client(server.address(), r, absl::Seconds(20)));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      const absl::StatusOr<World> w =
          clients[r]->Register(n, absl::StrCat("127.0.0.1:", 9000 + r), In(absl::Seconds(30)));
      EXPECT_TRUE(w.ok()) << w.status();
    });
  }
  for (std::thread& t : threads) t.join();
  return clients;
}

// Records every view and error a heartbeat thread reports.
class HeartbeatLog {
 public:
  HeartbeatOptions Options(absl::Duration timeout = absl::Seconds(60)) {
    HeartbeatOptions hb;
    hb.interval = absl::Milliseconds(100);
    hb.coordinator_timeout = timeout;
    hb.on_change = [this](const Membership& m) {
      absl::MutexLock lock(&mu_);
      epochs_.push_back(m.epoch);
    };
    hb.on_error = [this](const absl::Status& s) {
      absl::MutexLock lock(&mu_);
      errors_.push_back(s);
    };
    return hb;
  }
  std::vector<absl::Status> errors() const {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  std::vector<int64_t> epochs() const {
    absl::MutexLock lock(&mu_);
    return epochs_;
  }
  // The first error, or kDeadlineExceeded when none came within `timeout`.
  absl::Status WaitError(absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    const auto some = [this] { return !errors_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&some), timeout)) {
      return absl::DeadlineExceededError("no heartbeat error reported");
    }
    return errors_.front();
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> epochs_ ABSL_GUARDED_BY(mu_);
};

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = In(timeout);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

TEST(CoordinatorRestartTest, WithoutStateTheRanksViewsRestoreTheEpochAndTheDead) {
  const CoordinatorOptions options = Options(3);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto clients = RegisteredClients(*server, 3);
  ASSERT_TRUE(server->ReportFailure(2, "rank 2 exited with status 9").ok());
  for (int r = 0; r < 2; ++r) {
    const absl::StatusOr<Membership> m = clients[r]->Heartbeat(In(absl::Seconds(10)));
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_EQ(m->epoch, 2);
  }
  std::vector<HeartbeatLog> logs(2);
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(clients[r]->StartHeartbeats(logs[r].Options()).ok());

  server.reset();  // The coordinator dies; nothing of its state survives.
  absl::SleepFor(absl::Milliseconds(500));
  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  // The first heartbeat brings the job back: the same epoch, the same death and its reason.
  ASSERT_TRUE(WaitFor([&] { return server->membership().epoch >= 2; }, absl::Seconds(20)));
  const Membership restored = server->membership();
  EXPECT_EQ(restored.epoch, 2);
  ASSERT_NE(restored.FindDead(2), nullptr);
  EXPECT_EQ(restored.FindDead(2)->reason, "rank 2 exited with status 9");
  EXPECT_EQ(restored.alive_ranks, std::vector<int>({0, 1}));
  // The job goes on: a barrier of the survivors at the epoch they work in completes.
  std::vector<std::thread> threads;
  std::vector<absl::Status> barrier(2);
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back(
        [&, r] { barrier[r] = clients[r]->Barrier("after-restart", In(absl::Seconds(30)), 2); });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(barrier[r].ok()) << "rank " << r << ": " << barrier[r];
    EXPECT_EQ(clients[r]->last_membership().epoch, 2);
    // Never a lower epoch, and no error: a restart within the timeout is no fault.
    for (int64_t e : logs[r].epochs()) EXPECT_GE(e, 2);
    EXPECT_TRUE(logs[r].errors().empty()) << logs[r].errors().front();
  }
  // A later death still moves the epoch up from there.
  ASSERT_TRUE(server->ReportFailure(1, "rank 1 exited with status 1").ok());
  EXPECT_EQ(server->membership().epoch, 3);
  for (auto& c : clients) c->StopHeartbeats();
}

TEST(CoordinatorRestartTest, StateFileRestoresEpochMembershipAndKeyValues) {
  TempDir dir;
  const CoordinatorOptions options = Options(3, dir / "coordinator.state");
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto clients = RegisteredClients(*server, 3);
  ASSERT_TRUE(clients[0]->KvSet("model/version", "42", In(absl::Seconds(10))).ok());
  ASSERT_TRUE(server->ReportFailure(1, "rank 1 was killed by signal 9 (SIGKILL)").ok());
  server->Stop();  // Flushes the state file.
  server.reset();
  ASSERT_TRUE(std::filesystem::exists(dir / "coordinator.state"));
  EXPECT_EQ(std::filesystem::status(dir / "coordinator.state").permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);

  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  // Before any rank speaks: the file alone restored the job.
  const Membership m = server->membership();
  EXPECT_EQ(m.epoch, 2);
  ASSERT_NE(m.FindDead(1), nullptr);
  EXPECT_EQ(m.FindDead(1)->reason, "rank 1 was killed by signal 9 (SIGKILL)");
  const absl::StatusOr<std::string> value =
      clients[2]->KvGet("model/version", In(absl::Seconds(10)));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "42");
  // The dead rank stays dead; the live ones heartbeat on.
  EXPECT_EQ(clients[1]->Heartbeat(In(absl::Seconds(10))).status().code(),
            absl::StatusCode::kAborted);
  const absl::StatusOr<Membership> seen = clients[0]->Heartbeat(In(absl::Seconds(10)));
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->epoch, 2);
}

// A coordinator may be SIGKILLed the moment after it acknowledged a write: every acknowledged
// KvSet and KvAdd must already be in the state file (the file a restart reloads), or a rank that
// waits for the key (an elastic job's commit vote) waits until its deadline after the restart.
TEST(CoordinatorRestartTest, AcknowledgedKeyValueWritesAreInTheStateFileAtOnce) {
  TempDir dir;
  CoordinatorOptions options = Options(2, dir / "coordinator.state");
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto clients = RegisteredClients(*server, 2);
  for (int i = 0; i < 30; ++i) {
    const std::string key = absl::StrCat("crosslink/commit/1/", i, "/0");
    ASSERT_TRUE(clients[0]->KvSet(key, "1", In(absl::Seconds(10))).ok());
    ASSERT_TRUE(clients[1]->KvAdd("steps", 1, In(absl::Seconds(10))).ok());
    // What a restarted coordinator would load, read while this one still runs.
    absl::StatusOr<std::optional<CoordinatorSnapshot>> on_disk = ReadSnapshotFile(options);
    ASSERT_TRUE(on_disk.ok()) << on_disk.status();
    ASSERT_TRUE(on_disk->has_value()) << "no state file after an acknowledged write";
    std::map<std::string, std::string> kv((*on_disk)->kv.begin(), (*on_disk)->kv.end());
    EXPECT_EQ(kv[key], "1") << "write " << i << " acknowledged but not on disk";
    EXPECT_EQ(kv["steps"], absl::StrCat(i + 1)) << "add " << i << " acknowledged but not on disk";
  }
}

// A coordinator's state (no server) whose ranks all registered, for tests that drive it directly.
std::unique_ptr<CoordinatorState> RegisteredState(const CoordinatorOptions& options) {
  auto state = std::make_unique<CoordinatorState>(options);
  std::vector<std::thread> threads;
  for (int r = 0; r < options.world_size; ++r) {
    threads.emplace_back([&, r] {
      EXPECT_TRUE(state
                      ->Register(r, options.world_size, absl::StrCat("127.0.0.1:", 9000 + r),
                                 In(absl::Seconds(30)), [] { return false; })
                      .ok());
    });
  }
  for (std::thread& t : threads) t.join();
  return state;
}

// `rounds` rounds of barrier `name` in `epoch` (0: any) pass on all `ranks` ranks; each call says
// which round its rank passed last, as the coordinator client does.
void PassBarrierRounds(CoordinatorState& state, int ranks, const std::string& name, int64_t epoch,
                       int rounds) {
  for (int round = 1; round <= rounds; ++round) {
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r) {
      threads.emplace_back([&, r, round] {
        int64_t generation = 0;
        const absl::StatusOr<Membership> passed = state.Barrier(
            name, r, epoch, In(absl::Seconds(30)), [] { return false; }, 0, round - 1, &generation);
        EXPECT_TRUE(passed.ok()) << passed.status();
        EXPECT_EQ(generation, round);
      });
    }
    for (std::thread& t : threads) t.join();
  }
}

// The coordinator "killed" (only its state file survives) and started again from the file;
// nullptr (and a test failure) when the file cannot be read.
std::unique_ptr<CoordinatorState> RestartFromStateFile(std::unique_ptr<CoordinatorState> state,
                                                       const CoordinatorOptions& options) {
  state->FlushSnapshot();
  state.reset();
  absl::StatusOr<std::optional<CoordinatorSnapshot>> restored = ReadSnapshotFile(options);
  if (!restored.ok() || !restored->has_value()) {
    ADD_FAILURE() << "no state file to restart from: " << restored.status();
    return nullptr;
  }
  return std::make_unique<CoordinatorState>(options, **restored);
}

// A coordinator killed right after it released a barrier round, before every rank heard: the
// ranks that heard go on to the next round, the others ask again after the restart. The restarted
// coordinator must know (from its state file) that the round completed, or it would wait for the
// ranks that went on: an elastic job's quorum then hung until its deadline.
TEST(CoordinatorRestartTest, ABarrierRoundReleasedBeforeARestartIsNotWaitedForAgain) {
  TempDir dir;
  const CoordinatorOptions options = Options(2, dir / "coordinator.state");
  std::unique_ptr<CoordinatorState> state = RegisteredState(options);
  const auto never = [] { return false; };
  // Two rounds pass normally; each rank learns each round's generation.
  PassBarrierRounds(*state, 2, "step", 0, 2);
  state = RestartFromStateFile(std::move(state), options);
  ASSERT_NE(state, nullptr);
  // Rank 0 never heard of round 2's release: it asks again and passes at once.
  int64_t generation = 0;
  ASSERT_TRUE(
      state->Barrier("step", 0, 0, In(absl::Seconds(5)), never, 0, /*passed=*/1, &generation).ok());
  EXPECT_EQ(generation, 2);
  // Rank 1 heard, and is alone at round 3: that round waits for rank 0 as it must.
  EXPECT_EQ(state->Barrier("step", 1, 0, In(absl::Milliseconds(300)), never, 0, /*passed=*/2)
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
}

// The same with a death between the release and the question (crosslink-chaos found it: a step
// that met a coordinator kill and a rank death): the rank that asks again must still hear that
// the round was released in its epoch, as the ranks that heard did, or ShouldCommit commits the
// step on some ranks and drops it on another.
TEST(CoordinatorRestartTest, ABarrierRoundReleasedBeforeARestartWinsOverALaterDeath) {
  TempDir dir;
  const CoordinatorOptions options = Options(3, dir / "coordinator.state");
  std::unique_ptr<CoordinatorState> state = RegisteredState(options);
  const auto never = [] { return false; };
  const int64_t epoch = state->membership().epoch;
  // Two rounds in `epoch` pass on every rank; rank 1 misses the answer of the second.
  PassBarrierRounds(*state, 3, "commit", epoch, 2);
  state = RestartFromStateFile(std::move(state), options);
  ASSERT_NE(state, nullptr);
  // Rank 2 dies before rank 1 asks again.
  ASSERT_TRUE(state->ReportFailure(2, "", -1).ok());
  ASSERT_GT(state->membership().epoch, epoch);
  // Rank 1 hears that round 2 was released, as ranks 0 and 2 did...
  int64_t generation = 0;
  ASSERT_TRUE(
      state->Barrier("commit", 1, epoch, In(absl::Seconds(5)), never, 0, /*passed=*/1, &generation)
          .ok());
  EXPECT_EQ(generation, 2);
  // ...while round 3, which nobody completed in the old epoch, is aborted by the death.
  EXPECT_EQ(state->Barrier("commit", 0, epoch, In(absl::Seconds(5)), never, 0, /*passed=*/2)
                .status()
                .code(),
            absl::StatusCode::kAborted);
}

// A restarted rank's process holds incarnation >= 1; a coordinator restarted from its state file
// must know it, or it refuses that process as stale (and the job falls apart at the first
// coordinator restart after a rejoin).
TEST(CoordinatorRestartTest, ARejoinedRanksIncarnationSurvivesARestart) {
  TempDir dir;
  const CoordinatorOptions options = Options(2, dir / "coordinator.state");
  std::unique_ptr<CoordinatorState> state = RegisteredState(options);
  const auto never = [] { return false; };
  ASSERT_TRUE(state->ReportFailure(1, "rank 1 was killed by signal 9 (SIGKILL)", -1).ok());
  absl::StatusOr<CoordinatorState::Rejoined> rejoined;
  std::thread rejoin(
      [&] { rejoined = state->Rejoin(1, 2, "127.0.0.1:9101", In(absl::Seconds(30)), never); });
  // Rank 0 admits it at its step boundary, once it is waiting.
  ASSERT_TRUE(
      WaitFor([&] { return !state->Heartbeat(0)->joining_ranks.empty(); }, absl::Seconds(10)));
  ASSERT_TRUE(state->Admit(0, 0, state->Heartbeat(0)->epoch).ok());
  rejoin.join();
  ASSERT_TRUE(rejoined.ok()) << rejoined.status();
  ASSERT_GE(rejoined->incarnation, 1);
  state = RestartFromStateFile(std::move(state), options);
  ASSERT_NE(state, nullptr);
  const absl::StatusOr<Membership> seen =
      state->Heartbeat(1, CoordinatorState::RankReport(), rejoined->incarnation);
  EXPECT_TRUE(seen.ok()) << seen.status();
  // The process it replaced stays refused.
  EXPECT_EQ(state->Heartbeat(1, CoordinatorState::RankReport(), 0).status().code(),
            absl::StatusCode::kAborted);
}

TEST(CoordinatorRestartTest, AStaleStateFileIsOvertakenByTheRanksNewerView) {
  // The coordinator died between a death and the write of its file: the file says epoch 1, the
  // ranks know epoch 2. The restarted coordinator must end at 2, never answer with 1.
  TempDir dir;
  const CoordinatorOptions options = Options(3, dir / "state");
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto clients = RegisteredClients(*server, 3);
  server->Stop();
  server.reset();
  std::filesystem::copy_file(dir / "state", dir / "state.epoch1");
  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->ReportFailure(2, "rank 2 exited with status 3").ok());
  ASSERT_TRUE(clients[0]->Heartbeat(In(absl::Seconds(10))).ok());
  ASSERT_EQ(clients[0]->last_membership().epoch, 2);
  server->Stop();
  server.reset();
  std::filesystem::copy_file(dir / "state.epoch1", dir / "state",
                             std::filesystem::copy_options::overwrite_existing);

  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->membership().epoch, 1);
  const absl::StatusOr<Membership> m = clients[0]->Heartbeat(In(absl::Seconds(10)));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->epoch, 2);
  ASSERT_NE(m->FindDead(2), nullptr);
  EXPECT_EQ(server->membership().epoch, 2);
}

TEST(CoordinatorRestartTest, ACoordinatorWithItsOwnNewerRendezvousIsReportedNotAdopted) {
  // A rank of an old job reaches a coordinator that completed a rendezvous of its own (another
  // job with the same token and port): its lower epoch is reported, and not taken.
  const CoordinatorOptions options = Options(2);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto old_clients = RegisteredClients(*server, 2);
  ASSERT_TRUE(server->ReportFailure(1, "rank 1 exited with status 1").ok());
  ASSERT_TRUE(old_clients[0]->Heartbeat(In(absl::Seconds(10))).ok());
  server.reset();
  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  auto new_clients = RegisteredClients(*server, 2);  // epoch 1 of its own
  // Past the window in which a coordinator that restarted takes its ranks' views.
  HeartbeatLog log;
  ASSERT_TRUE(old_clients[0]->StartHeartbeats(log.Options()).ok());
  const absl::Status error = log.WaitError(absl::Seconds(20));
  EXPECT_EQ(error.code(), absl::StatusCode::kFailedPrecondition) << error;
  EXPECT_THAT(error.message(), HasSubstr("answered epoch 1 after epoch 2"));
  EXPECT_THAT(error.message(), HasSubstr("rank 0"));
  EXPECT_EQ(old_clients[0]->last_membership().epoch, 2);
  EXPECT_EQ(server->membership().epoch, 1);
  old_clients[0]->StopHeartbeats();
}

TEST(CoordinatorRestartTest, ALostCoordinatorIsReportedOnceAndHeartbeatsCarryOn) {
  const CoordinatorOptions options = Options(1);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto clients = RegisteredClients(*server, 1);
  HeartbeatLog log;
  ASSERT_TRUE(clients[0]->StartHeartbeats(log.Options(absl::Milliseconds(800))).ok());
  const absl::Time stopped = absl::Now();
  server.reset();
  const absl::Status lost = log.WaitError(absl::Seconds(30));
  const absl::Duration after = absl::Now() - stopped;
  EXPECT_EQ(lost.code(), absl::StatusCode::kUnavailable) << lost;
  EXPECT_THAT(lost.message(), HasSubstr("rank 0 lost the job coordinator"));
  EXPECT_THAT(lost.message(), HasSubstr("CROSSLINK_COORDINATOR_TIMEOUT"));
  EXPECT_GE(after, absl::Milliseconds(700));  // Not before the configured time.
  // The thread did not exit: a coordinator that comes back is found and restored.
  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(WaitFor([&] { return server->membership().epoch == 1; }, absl::Seconds(20)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(log.errors().size(), 1u);  // Reported once, not once per missed heartbeat.
  clients[0]->StopHeartbeats();
}

TEST(CoordinatorRestartTest, AJobEndedByShutdownIsFinalAtOnce) {
  auto server = StartServer(Options(2));
  ASSERT_NE(server, nullptr);
  auto clients = RegisteredClients(*server, 2);
  HeartbeatLog log;
  ASSERT_TRUE(clients[0]->StartHeartbeats(log.Options(absl::Seconds(120))).ok());
  ASSERT_TRUE(clients[1]->Shutdown("training finished", In(absl::Seconds(10))).ok());
  // Long before the 120 s loss timeout: the coordinator said the job is over.
  const absl::Status error = log.WaitError(absl::Seconds(30));
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable) << error;
  EXPECT_THAT(error.message(), HasSubstr("training finished"));
  clients[0]->StopHeartbeats();
}

TEST(CoordinatorRestartTest, CallsRideOutARestartWithinTheirRetryWindow) {
  TempDir dir;
  const CoordinatorOptions options = Options(2, dir / "state");
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto clients = RegisteredClients(*server, 2);
  server.reset();
  absl::Status set = absl::UnknownError("not run");
  std::thread writer([&] { set = clients[0]->KvSet("during", "restart", In(absl::Seconds(30))); });
  absl::SleepFor(absl::Milliseconds(700));
  server = RestartServer(options, port);
  ASSERT_NE(server, nullptr);
  writer.join();
  EXPECT_TRUE(set.ok()) << set;
  const absl::StatusOr<std::string> got = clients[1]->KvGet("during", In(absl::Seconds(10)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "restart");
  // A client without a retry window fails at once, as before.
  server.reset();
  auto impatient = Client(absl::StrCat("127.0.0.1:", port), 0);
  const absl::Time start = absl::Now();
  EXPECT_EQ(impatient->KvSet("k", "v", In(absl::Seconds(30))).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// Writes `bytes` as the state file and returns what Start says about it.
absl::Status StartWithStateBytes(const std::filesystem::path& path, const std::string& bytes,
                                 const CoordinatorOptions& options) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return CoordinatorServer::Start(options).status();
}

// A coordinator with options.state_file whose world_size ranks register, then stop: the file then
// holds a completed rendezvous at epoch 1.
void RunAJobThatLeavesItsStateFile(const CoordinatorOptions& options) {
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto clients = RegisteredClients(*server, options.world_size);
}

TEST(CoordinatorRestartTest, ARestartRemovesTheTemporaryFilesOfKilledWritersOnly) {
  // A coordinator SIGKILLed in mid-write leaves "<file>.tmp.<pid>"; a job whose coordinator
  // restarts again and again must not pile them up. A live writer's temporary stays.
  TempDir dir;
  const std::filesystem::path path = dir / "state";
  const CoordinatorOptions options = Options(2, path);
  ASSERT_NO_FATAL_FAILURE(RunAJobThatLeavesItsStateFile(options));
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // its pid now names no process
  const std::filesystem::path dead_writer = dir / absl::StrCat("state.tmp.", child);
  const std::filesystem::path live_writer = dir / absl::StrCat("state.tmp.", getpid());
  const std::filesystem::path unrelated = dir / "state.tmp.notapid";
  for (const auto& p : {dead_writer, live_writer, unrelated}) std::ofstream(p) << "partial";
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->membership().epoch, 1);  // the real file was read as before
  EXPECT_FALSE(std::filesystem::exists(dead_writer));
  EXPECT_TRUE(std::filesystem::exists(live_writer));
  EXPECT_TRUE(std::filesystem::exists(unrelated));
}

TEST(CoordinatorRestartTest, CorruptOrHostileStateFilesAreClearErrors) {
  TempDir dir;
  const std::filesystem::path path = dir / "state";
  const CoordinatorOptions options = Options(3, path);
  ASSERT_NO_FATAL_FAILURE(RunAJobThatLeavesItsStateFile(options));
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_FALSE(good.empty());
  proto::CoordinatorSnapshot snapshot;
  ASSERT_TRUE(snapshot.ParseFromString(good));
  ASSERT_EQ(snapshot.membership().epoch(), 1);

  const auto expect = [&](const std::string& bytes, absl::StatusCode code,
                          const std::string& says) {
    const absl::Status s = StartWithStateBytes(path, bytes, options);
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_THAT(s.message(), HasSubstr(path.string()));
    EXPECT_THAT(s.message(), HasSubstr(says));
  };
  expect("this is not a snapshot \xff\xff\xff", absl::StatusCode::kDataLoss, "corrupt");
  expect(good.substr(0, good.size() / 2), absl::StatusCode::kDataLoss, "corrupt");
  const auto mutated = [&](const std::function<void(proto::CoordinatorSnapshot&)>& change) {
    proto::CoordinatorSnapshot copy = snapshot;
    change(copy);
    return copy.SerializeAsString();
  };
  expect(mutated([](auto& p) { p.set_format(99); }), absl::StatusCode::kDataLoss, "format 99");
  expect(mutated([](auto& p) { p.set_world_size(4); }), absl::StatusCode::kInvalidArgument,
         "another job");
  expect(mutated([](auto& p) { p.set_token_digest("12345678"); }),
         absl::StatusCode::kInvalidArgument, "another job token");
  expect(mutated([](auto& p) { p.mutable_membership()->set_epoch(-5); }),
         absl::StatusCode::kInvalidArgument, "negative membership epoch");
  expect(mutated([](auto& p) { p.mutable_membership()->add_alive_ranks(7); }),
         absl::StatusCode::kInvalidArgument, "do not make a world of 3");
  expect(mutated([](auto& p) { p.mutable_membership()->set_alive_ranks(1, 0); }),
         absl::StatusCode::kInvalidArgument, "listed twice");
  expect(mutated([](auto& p) { p.mutable_data_addresses()->RemoveLast(); }),
         absl::StatusCode::kDataLoss, "2 data addresses for 3 ranks");
  expect(mutated([](auto& p) {
           auto* e = p.add_kv();
           e->set_key("k");
           e->set_value(std::string(2 << 20, 'x'));  // over max_kv_value_bytes
         }),
         absl::StatusCode::kDataLoss, "quota");
  // A file far larger than any snapshot is refused before it is read.
  {
    const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, int64_t{64} << 30), 0);  // sparse: 64 GiB claimed, nothing stored
    close(fd);
    const absl::Status s = CoordinatorServer::Start(options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(s.message(), HasSubstr("at most"));
  }
  // The good file still loads.
  EXPECT_TRUE(StartWithStateBytes(path, good, options).ok());
}

}  // namespace
}  // namespace crosslink::runtime
