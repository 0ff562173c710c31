// crosslink-test-elastic-worker VICTIM HOW STEPS [partial] [contact]: one rank of an elastic_test
// job, started through the real crosslink-run (with --min-ranks). Every rank joins with
// CROSSLINK_ELASTIC=1 and runs STEPS steps of the elastic training loop (communicator.h): Quorum
// (retried on kAborted), the step's collectives, ShouldCommit(they all succeeded). The victim dies
// in step 2, after its quorum (VICTIM may list two ranks, "2,3": the second dies in step 3); HOW:
//   kill   SIGKILL before the step's collectives;
//   exit   exit status 9 there;
//   mid    SIGKILL from a second thread once the victim has entered its first allreduce;
//   idle   SIGKILL before the collectives, and the survivors wait (at most 10 s) until their
//          heartbeats report the death before they run theirs, which must then fail with
//          kAborted without running (the membership moved past the step's quorum; the wait
//          polls Communicator::membership(): the heartbeat thread's view alone must stop them),
//          and the next Quorum rebuilds the mesh.
// The collectives: a kSum allreduce of rank-dependent values, checked exactly against the sum over
// the live ranks (the quorum's, or in idle mode the membership's); a kAvg allreduce of
// 3 * (rank + 1), checked against the mean over them (exact in float for these values); with
// "partial", a kSum allreduce of 1 with min_participants = 2, and with "contact" (a job with a
// scenario) a contact-aware kSum allreduce of 1: both agreements are decided by the lowest live
// rank; a broadcast from the lowest live rank; a barrier; once a rank has died, an allgather and
// an alltoall, which must be refused with kFailedPrecondition (and leave the communicator usable).
// Each step prints one line:
//   "step S epoch E live 0,1,3 status CODE commit 0|1"
// (CODE the first collective failure's code, OK when none), the failure's message on a line of
// its own ("step S error: ..."), and at the end "result: OK" (exit 0), or "result: FAILED: why"
// (exit 1) when a result was wrong or a quorum or commit call failed.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/communicator.h"

namespace {

using crosslink::collectives::DataType;
using crosslink::collectives::ReduceOp;
using crosslink::runtime::CollectiveOptions;
using crosslink::runtime::Communicator;
using crosslink::runtime::Quorum;

constexpr int kDeathStep = 2;
constexpr size_t kCount = 65536;

float Value(int rank, size_t i) { return static_cast<float>((rank * 7 + i % 97) % 101); }

// Set by the victim in mode "mid" just before its first allreduce of the death step.
std::atomic<bool> entering_collective{false};

// The step's collectives over the live ranks; the first failure, or OK.
absl::Status RunStep(Communicator& comm, const std::vector<int>& live, bool partial, bool contact) {
  CollectiveOptions options;
  options.timeout = absl::Seconds(15);
  std::vector<float> data(kCount);
  for (size_t i = 0; i < kCount; ++i) data[i] = Value(comm.rank(), i);
  entering_collective.store(true);
  absl::Status s = comm.Allreduce(data.data(), kCount, DataType::kFloat32, ReduceOp::kSum, options);
  if (!s.ok()) return s;
  for (size_t i = 0; i < kCount; ++i) {
    float expected = 0;
    for (int r : live) expected += Value(r, i);
    if (data[i] != expected) {
      return absl::InternalError(absl::StrCat("sum element ", i, " is ", data[i], ", expected ",
                                              expected, " over ", live.size(), " ranks"));
    }
  }
  float mean = 3.0f * static_cast<float>(comm.rank() + 1);
  s = comm.Allreduce(&mean, 1, DataType::kFloat32, ReduceOp::kAvg, options);
  if (!s.ok()) return s;
  float expected_mean = 0;
  for (int r : live) expected_mean += 3.0f * static_cast<float>(r + 1);
  expected_mean /= static_cast<float>(live.size());
  if (mean != expected_mean) {
    return absl::InternalError(absl::StrCat("mean is ", mean, ", expected ", expected_mean));
  }
  CollectiveOptions partial_options = options;
  partial_options.min_participants = 2;
  CollectiveOptions contact_options = options;
  contact_options.contact_aware = true;
  for (const auto& [wanted, agreed] :
       {std::pair{partial, &partial_options}, std::pair{contact, &contact_options}}) {
    if (!wanted) continue;
    float one = 1;
    s = comm.Allreduce(&one, 1, DataType::kFloat32, ReduceOp::kSum, *agreed);
    if (!s.ok()) return s;
    if (one != static_cast<float>(live.size())) {
      return absl::InternalError(absl::StrCat("sum of ones is ", one, ", expected ", live.size()));
    }
  }
  // A broadcast from the lowest live rank and a barrier run over the live ranks too.
  float token = static_cast<float>(comm.rank() + 100);
  s = comm.Broadcast(&token, 1, DataType::kFloat32, live.front(), options);
  if (!s.ok()) return s;
  if (token != static_cast<float>(live.front() + 100)) {
    return absl::InternalError(absl::StrCat("broadcast gave ", token, " from rank ", live.front()));
  }
  s = comm.Barrier(options);
  if (!s.ok()) return s;
  if (static_cast<int>(live.size()) < comm.world_size()) {
    // Laid out by rank: refused once a rank has died, without breaking the communicator.
    std::vector<float> all(comm.world_size());
    s = comm.Allgather(&token, all.data(), 1, DataType::kFloat32, options);
    if (s.code() != absl::StatusCode::kFailedPrecondition) {
      return absl::InternalError(absl::StrCat("allgather after a death: ", s.ToString()));
    }
    std::vector<float> sent(comm.world_size(), token), got(comm.world_size());
    s = comm.Alltoall(sent.data(), got.data(), 1, DataType::kFloat32, options);
    if (s.code() != absl::StatusCode::kFailedPrecondition) {
      return absl::InternalError(absl::StrCat("alltoall after a death: ", s.ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: crosslink-test-elastic-worker VICTIM kill|exit|mid|idle STEPS [partial] "
                 "[contact]\n");
    return 2;
  }
  // The rank that dies in step kDeathStep + i is victims[i].
  std::vector<int> victims;
  for (absl::string_view v : absl::StrSplit(argv[1], ','))
    victims.push_back(std::atoi(std::string(v).c_str()));
  const std::string how = argv[2];
  const int steps = std::atoi(argv[3]);
  bool partial = false;
  bool contact = false;
  for (int i = 4; i < argc; ++i) {
    partial |= std::string(argv[i]) == "partial";
    contact |= std::string(argv[i]) == "contact";
  }
  setenv("CROSSLINK_ELASTIC", "1", 1);
  auto created = Communicator::CreateFromEnvironment(absl::Seconds(60));
  if (!created.ok()) {
    std::printf("result: FAILED: setup: %s\n", created.status().ToString().c_str());
    return 2;
  }
  Communicator& comm = **created;
  std::string failure;
  for (int step = 0; step < steps && failure.empty(); ++step) {
    absl::StatusOr<Quorum> quorum;
    for (int attempt = 0; attempt < 5; ++attempt) {
      quorum = comm.Quorum(absl::Now() + absl::Seconds(15));
      if (quorum.ok() || quorum.status().code() != absl::StatusCode::kAborted) break;
    }
    if (!quorum.ok()) {
      failure = absl::StrCat("step ", step, " quorum: ", quorum.status().ToString());
      break;
    }
    std::vector<int> live = quorum->live_ranks;
    const int death = step - kDeathStep;
    const int victim = death >= 0 && death < static_cast<int>(victims.size()) ? victims[death] : -1;
    if (comm.rank() == victim) {
      std::fflush(stdout);
      if (how == "exit") _exit(9);
      if (how != "mid") raise(SIGKILL);
      entering_collective.store(false);  // set again by RunStep just before the allreduce
      std::thread([] {
        while (!entering_collective.load()) std::this_thread::yield();
        raise(SIGKILL);
      }).detach();
    }
    if (how == "idle" && victim >= 0) {
      const absl::Time until = absl::Now() + absl::Seconds(10);
      while (comm.membership().epoch == quorum->epoch && absl::Now() < until) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      live = comm.membership().alive_ranks;
    }
    const absl::Status status = RunStep(comm, live, partial, contact);
    if (status.code() == absl::StatusCode::kInternal) failure = std::string(status.message());
    const absl::StatusOr<bool> commit =
        comm.ShouldCommit(status.ok(), absl::Now() + absl::Seconds(15));
    if (!commit.ok())
      failure = absl::StrCat("step ", step, " commit: ", commit.status().ToString());
    std::printf("step %d epoch %lld live %s status %s commit %d\n", step,
                static_cast<long long>(quorum->epoch),
                absl::StrJoin(quorum->live_ranks, ",").c_str(),
                absl::StatusCodeToString(status.code()).c_str(), commit.ok() && *commit ? 1 : 0);
    if (!status.ok())
      std::printf("step %d error: %s\n", step, std::string(status.message()).c_str());
    std::fflush(stdout);
  }
  if (!failure.empty()) {
    std::printf("result: FAILED: %s\n", failure.c_str());
    return 1;
  }
  std::printf("result: OK\n");
  return 0;
}
