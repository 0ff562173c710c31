// crosslink-test-rejoin-worker VICTIM KILL_STEP STEPS [shape|cut]: one rank of a rejoin_test job,
// started through the real crosslink-run with --max-restarts. Every rank runs the elastic training
// loop (communicator.h) over a toy training state: a vector of kStateFloats floats and the step
// counter. Each step: Quorum (retried on kAborted); when state_sync_due, SyncState (a kAborted
// sync goes back to Quorum); a kAvg allreduce of a rank- and step-dependent "gradient";
// ShouldCommit; on commit, state += gradient and ++step. A rank whose first process
// (CROSSLINK_RESTART_COUNT 0) is VICTIM SIGKILLs itself after its quorum in step KILL_STEP; the
// launcher restarts it and the new process rejoins and continues from the step it received.
//   shape: the restarted process's state has one float more (a different model): its SyncState
//          must be refused with kInvalidArgument, and it exits 3.
//   cut:   rank 0 (the sync's source) SIGKILLs itself in the middle of the transfer to the
//          rejoined rank; the rejoined rank must then get the state from the next live rank.
// Lines: "sync epoch E source S receivers R bytes B resumed_from F" per successful SyncState,
// "sync error: CODE message" per failed one, and at the end "result: OK step N hash H" (exit 0),
// or "result: FAILED: why" (exit 1).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/communicator.h"

namespace {

using crosslink::collectives::DataType;
using crosslink::collectives::ReduceOp;
using crosslink::runtime::CollectiveOptions;
using crosslink::runtime::Communicator;

constexpr size_t kStateFloats = 1 << 20;  // 4 MiB: a transfer of many chunks

int Fail(const std::string& why) {
  std::printf("result: FAILED: %s\n", why.c_str());
  std::fflush(stdout);
  return 1;
}

uint64_t Hash(const std::vector<float>& state, int64_t step) {
  uint64_t h = 14695981039346656037ull;
  const auto* p = reinterpret_cast<const unsigned char*>(state.data());
  for (size_t i = 0; i < state.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return (h ^ static_cast<uint64_t>(step)) * 1099511628211ull;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return Fail("usage: VICTIM KILL_STEP STEPS [shape|cut]");
  const int victim = std::atoi(argv[1]);
  const int kill_step = std::atoi(argv[2]);
  const int steps = std::atoi(argv[3]);
  const std::string mode = argc > 4 ? argv[4] : "";
  const char* restart_env = std::getenv("CROSSLINK_RESTART_COUNT");
  const int restart = restart_env != nullptr ? std::atoi(restart_env) : 0;
  setenv("CROSSLINK_ELASTIC", "1", 1);

  auto created = Communicator::CreateFromEnvironment(absl::Seconds(60));
  if (!created.ok()) return Fail(created.status().ToString());
  Communicator& comm = **created;
  const int rank = comm.rank();

  // The state: a rejoined process starts from garbage that SyncState must replace.
  const size_t floats = kStateFloats;
  std::vector<float> state(floats + (mode == "shape" && restart > 0 ? 1 : 0),
                           restart > 0 ? -1.0f : 0.0f);
  int64_t step = restart > 0 ? -1 : 0;
  std::vector<crosslink::runtime::StateBuffer> buffers = {
      {"weights", state.data(), state.size() * sizeof(float)}, {"step", &step, sizeof(step)}};
  crosslink::runtime::StateSyncOptions sync_options;
  sync_options.chunk_bytes = 64 << 10;

  std::vector<float> gradient(4096);
  while (step < steps) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    auto quorum = comm.Quorum(deadline);
    if (!quorum.ok()) {
      if (quorum.status().code() == absl::StatusCode::kAborted) continue;
      return Fail(absl::StrCat("quorum: ", quorum.status().ToString()));
    }
    if (quorum->state_sync_due) {
      crosslink::runtime::StateSyncOptions options = sync_options;
      if (mode == "cut" && rank == 0 && restart == 0 && !quorum->rejoined_ranks.empty()) {
        // The source dies once half of the state is on its way to the rejoined rank.
        options.progress = [total = state.size() * sizeof(float)](int64_t sent) {
          if (static_cast<size_t>(sent) >= total / 2) kill(getpid(), SIGKILL);
        };
      }
      auto synced = comm.SyncState(buffers, deadline, options);
      if (!synced.ok()) {
        std::printf("sync error: %s\n", synced.status().ToString().c_str());
        std::fflush(stdout);
        if (synced.status().code() == absl::StatusCode::kAborted) continue;
        if (synced.status().code() == absl::StatusCode::kInvalidArgument && mode == "shape") {
          return 3;
        }
        return Fail(absl::StrCat("sync: ", synced.status().ToString()));
      }
      std::printf("sync epoch %lld source %d receivers %s bytes %lld resumed_from %lld\n",
                  static_cast<long long>(quorum->epoch), synced->source,
                  absl::StrJoin(synced->receivers, ",").c_str(),
                  static_cast<long long>(synced->bytes_received),
                  static_cast<long long>(synced->resumed_from));
      std::fflush(stdout);
    }
    if (!comm.has_state()) return Fail("training without state");
    if (rank == victim && restart == 0 && step == kill_step && mode != "cut") {
      kill(getpid(), SIGKILL);
    }
    for (size_t i = 0; i < gradient.size(); ++i) {
      gradient[i] = static_cast<float>((rank + 1) * ((step + i) % 7));
    }
    CollectiveOptions options;
    options.deadline = deadline;
    const absl::Status status = comm.Allreduce(gradient.data(), gradient.size(), DataType::kFloat32,
                                               ReduceOp::kAvg, options);
    auto commit = comm.ShouldCommit(status.ok(), deadline);
    if (!commit.ok()) return Fail(absl::StrCat("commit: ", commit.status().ToString()));
    if (*commit) {
      for (size_t i = 0; i < state.size(); ++i) state[i] += gradient[i % gradient.size()];
      ++step;
    }
    // The cut mode's victim dies in the sync that follows the first restart of another rank:
    // kill it (the ordinary victim) at kill_step so that a rejoin happens.
    if (mode == "cut" && rank == victim && restart == 0 && step == kill_step) {
      kill(getpid(), SIGKILL);
    }
    absl::SleepFor(absl::Milliseconds(20));  // a step of "compute"
  }
  std::printf("result: OK step %lld hash %016llx\n", static_cast<long long>(step),
              static_cast<unsigned long long>(Hash(state, step)));
  std::fflush(stdout);
  return 0;
}
