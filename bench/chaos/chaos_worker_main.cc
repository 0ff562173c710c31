// crosslink-chaos-worker: the program every rank of a crosslink-chaos campaign runs (started by
// the driver with the launcher's environment, CROSSLINK_ELASTIC=1 and an external coordinator).
// It runs the elastic training loop of communicator.h over a small state whose every value the
// program can predict, so a wrong result is detected, not assumed away:
//   state: --state-floats floats and a step counter (a restarted process starts from garbage and
//          must receive the state through SyncState);
//   each step: Quorum (kAborted/kDeadlineExceeded/kUnavailable: again); SyncState when due (its
//          hash check proves every live rank holds the same state); every live rank contributes
//          Contribution(rank, step, i), small integers, so the kSum allreduce over float32 is
//          exact and must equal the sum over the quorum's live ranks, bit for bit; ShouldCommit
//          with "the allreduce succeeded and was right"; on commit state += sum, ++step.
// It writes one event per line (worker_events.h) and exits 0 at the step the driver's stop file
// names, 4 after a kDataLoss and 5 after any other failure that broke the communicator (the
// driver restarts the rank, which rejoins),
// 3 when the coordinator declared this process dead (a stale incarnation after SIGSTOP), 1 when
// it makes no progress for --give-up-s or meets an error no fault explains.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/chaos/worker_events.h"
#include "crosslink/base/flags.h"
#include "crosslink/runtime/communicator.h"

namespace {

using crosslink::chaos::EventKind;
using crosslink::chaos::WorkerEvent;
using crosslink::collectives::DataType;
using crosslink::collectives::ReduceOp;
using crosslink::runtime::Communicator;

void Emit(WorkerEvent e) {
  e.t_us = absl::ToUnixMicros(absl::Now());
  std::printf("%s\n", crosslink::chaos::FormatEvent(e).c_str());
  std::fflush(stdout);
}

int Exit(EventKind kind, const std::string& msg, int code) {
  Emit(WorkerEvent{.kind = kind, .msg = msg});
  return code;
}

// What rank `rank` adds to element i in step `step`: small integers (sums of a few ranks stay
// exact in float32), different per rank, step and element.
float Contribution(int rank, int64_t step, size_t i) {
  return static_cast<float>(((rank + 1) * (step * 31 + static_cast<int64_t>(i) * 7 + 1)) % 13);
}

// The step the driver's stop file names, or -1 while there is none.
int64_t StopStep(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return -1;
  int64_t step = -1;
  return absl::SimpleAtoi(text, &step) ? step : -1;
}

uint64_t Hash(const std::vector<float>& state, int64_t step) {
  uint64_t h = 14695981039346656037ull;
  const auto* p = reinterpret_cast<const unsigned char*>(state.data());
  for (size_t i = 0; i < state.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return (h ^ static_cast<uint64_t>(step)) * 1099511628211ull;
}

bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted ||
         s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kUnavailable;
}

// The communicator failed earlier with an error no death explained (communicator.h: it is then
// broken for good): this process leaves the job, and its restart rejoins it with the live ranks'
// state, as a crash would.
bool Broken(const absl::Status& s) { return s.code() == absl::StatusCode::kFailedPrecondition; }

}  // namespace

int main(int argc, char** argv) {
  int state_floats = 4096;
  double step_deadline_s = 20, give_up_s = 120, compute_ms = 5;
  std::string stop_file;
  crosslink::base::FlagSet flags(
      "crosslink-chaos-worker",
      "usage: crosslink-chaos-worker --stop-file FILE [options]\n"
      "One rank of a crosslink-chaos campaign (started by crosslink-chaos, not by hand).\n");
  flags
      .String(
          "stop-file", &stop_file,
          "file in which the driver writes the step from which to stop (at a quorum of every rank)")
      .Required()
      .ValueName("FILE");
  flags.Int("state-floats", &state_floats, "floats of training state").Min(1).Max(1 << 24);
  flags.Double("step-deadline-s", &step_deadline_s, "deadline of each call of a step").Above(0);
  flags.Double("give-up-s", &give_up_s, "exit 1 after this long without a committed step").Above(0);
  flags.Double("compute-ms", &compute_ms, "sleep per step standing for computation").Min(0);
  if (std::optional<int> code = flags.ParseMain(argc, argv); code.has_value()) return *code;

  const char* restart_env = std::getenv("CROSSLINK_RESTART_COUNT");
  const int restart = restart_env != nullptr ? std::atoi(restart_env) : 0;
  auto created = Communicator::CreateFromEnvironment(absl::Seconds(120));
  if (!created.ok()) {
    // A restarted process whose rank is already readmitted or refused exits like a stale one.
    return Exit(EventKind::kFatal, absl::StrCat("create: ", created.status().ToString()), 1);
  }
  Communicator& comm = **created;
  const int rank = comm.rank();
  Emit(WorkerEvent{.kind = EventKind::kReady, .restart = restart});

  std::vector<float> state(static_cast<size_t>(state_floats), restart > 0 ? -1.0f : 0.0f);
  int64_t step = restart > 0 ? -1 : 0;
  const std::vector<crosslink::runtime::StateBuffer> buffers = {
      {"state", state.data(), state.size() * sizeof(float)}, {"step", &step, sizeof(step)}};
  std::vector<float> sum(state.size());
  absl::Time last_progress = absl::Now();
  auto report = [&](const char* stage, const absl::Status& s) {
    Emit(WorkerEvent{.kind = EventKind::kError,
                     .stage = stage,
                     .code = std::string(absl::StatusCodeToString(s.code())),
                     .msg = std::string(s.message())});
  };
  // Whether the coordinator refuses this process for good: it declared the rank dead while the
  // process was stopped (or it is a stale incarnation). Asked after a failed call, whose code
  // may be kAborted (a death, maybe another rank's) or, when the verdict closed a connection
  // under a collective, kUnavailable and then kFailedPrecondition; the coordinator answers a
  // heartbeat from a dead rank with kAborted, and the communicator's own view may predate it.
  auto refused = [&](const absl::Status& s) {
    if (s.ok()) return false;
    if (const crosslink::runtime::Membership m = comm.membership(); m.FindDead(rank) != nullptr) {
      return true;
    }
    return comm.coordinator().Heartbeat(absl::Now() + absl::Seconds(5)).status().code() ==
           absl::StatusCode::kAborted;
  };

  for (;;) {
    if (absl::Now() - last_progress > absl::Seconds(give_up_s)) {
      return Exit(EventKind::kFatal, absl::StrCat("no committed step for ", give_up_s, " s"), 1);
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(step_deadline_s);
    const absl::Time step_start = absl::Now();
    const int64_t outages_before = comm.outages_met();
    auto quorum = comm.Quorum(deadline);
    if (!quorum.ok()) {
      if (refused(quorum.status())) {
        return Exit(EventKind::kRefused, quorum.status().ToString(), 3);
      }
      report("quorum", quorum.status());
      if (Retryable(quorum.status())) continue;
      if (Broken(quorum.status())) return Exit(EventKind::kBroken, quorum.status().ToString(), 5);
      return Exit(EventKind::kFatal, absl::StrCat("quorum: ", quorum.status().ToString()), 1);
    }
    if (quorum->state_sync_due) {
      auto synced = comm.SyncState(buffers, deadline);
      if (!synced.ok()) {
        if (synced.status().code() == absl::StatusCode::kDataLoss &&
            absl::StrContains(synced.status().message(), "hash differs")) {
          // The live ranks' states diverged: a wrong result that SyncState's check caught.
          return Exit(EventKind::kWrong, synced.status().ToString(), 1);
        }
        if (synced.status().code() == absl::StatusCode::kDataLoss) {
          // A frame of the transfer or of the hash check failed its check (the communicator is
          // broken: leave and rejoin), or the ranks' hashes differ; state that really diverged
          // shows in the final hashes, which the driver compares.
          Emit(WorkerEvent{.kind = EventKind::kDataLoss,
                           .seq = comm.last_stats().sequence,
                           .msg = synced.status().ToString()});
          return 4;
        }
        if (refused(synced.status())) {
          return Exit(EventKind::kRefused, synced.status().ToString(), 3);
        }
        report("sync", synced.status());
        if (Retryable(synced.status())) continue;
        if (Broken(synced.status())) return Exit(EventKind::kBroken, synced.status().ToString(), 5);
        return Exit(EventKind::kFatal, absl::StrCat("sync: ", synced.status().ToString()), 1);
      }
    }
    // The agreed stop step ends the run only in a quorum of every rank, after its state sync: a
    // rank still rejoining (restarted after a bit error caught near the end) is admitted first
    // and ends with a hash too, instead of finding nobody left to admit it. Every rank decides
    // alike: same quorum, same step.
    if (comm.has_state()) {
      const int64_t stop = StopStep(stop_file);
      if (stop >= 0 && step >= stop &&
          static_cast<int>(quorum->live_ranks.size()) == comm.world_size()) {
        break;
      }
    }
    if (!comm.has_state()) return Exit(EventKind::kFatal, "a step without state", 1);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] = Contribution(rank, step, i);
    crosslink::runtime::CollectiveOptions options;
    options.deadline = deadline;
    const absl::Status reduced =
        comm.Allreduce(sum.data(), sum.size(), DataType::kFloat32, ReduceOp::kSum, options);
    bool right = reduced.ok();
    if (reduced.ok()) {
      for (size_t i = 0; i < sum.size() && right; ++i) {
        float expected = 0;
        for (int r : quorum->live_ranks) expected += Contribution(r, step, i);
        if (sum[i] != expected) {
          right = false;
          Emit(WorkerEvent{.kind = EventKind::kWrong,
                           .step = step,
                           .msg = absl::StrCat("element ", i, " is ", sum[i], ", expected ",
                                               expected, " over ", quorum->live_ranks.size(),
                                               " live ranks at epoch ", quorum->epoch)});
        }
      }
    } else if (reduced.code() == absl::StatusCode::kDataLoss) {
      // A corruption was caught; the communicator is broken from here on (communicator.h), so
      // this rank leaves and is restarted, and rejoins with the live ranks' state.
      Emit(WorkerEvent{.kind = EventKind::kDataLoss,
                       .seq = comm.last_stats().sequence,
                       .msg = reduced.ToString()});
      return 4;
    } else {
      if (refused(reduced)) return Exit(EventKind::kRefused, reduced.ToString(), 3);
      report("allreduce", reduced);
    }
    auto commit = comm.ShouldCommit(right, deadline);
    if (!commit.ok()) {
      if (refused(commit.status())) {
        return Exit(EventKind::kRefused, commit.status().ToString(), 3);
      }
      report("commit", commit.status());
      if (Retryable(commit.status())) continue;
      return Exit(EventKind::kFatal, absl::StrCat("commit: ", commit.status().ToString()), 1);
    }
    if (*commit) {
      for (size_t i = 0; i < state.size(); ++i) state[i] += sum[i];
      ++step;
      last_progress = absl::Now();
      Emit(WorkerEvent{.kind = EventKind::kStep,
                       .step = step,
                       .epoch = quorum->epoch,
                       .live = static_cast<int>(quorum->live_ranks.size()),
                       .dur_us = absl::ToInt64Microseconds(absl::Now() - step_start),
                       .outages = comm.outages_met() - outages_before});
    }
    if (compute_ms > 0) absl::SleepFor(absl::Milliseconds(compute_ms));
  }
  Emit(WorkerEvent{.kind = EventKind::kFinal, .step = step, .hash = Hash(state, step)});
  return 0;
}
