// crosslink-test-communicator-worker MODE [ARG]: one rank of a communicator_test job, started
// through the real crosslink-run. Every rank joins with Communicator::CreateFromEnvironment, then
//   allreduce COUNT   one float sum allreduce of COUNT elements of a rank-dependent pattern,
//                     checked element by element on every rank;
//   mismatch COUNT    the same, except that rank 1 passes COUNT + 4 elements;
//   kill VICTIM       one good allreduce, then rank VICTIM kills itself with SIGKILL while the
//                     others keep allreducing;
//   cut SECONDS       allreduces of 1 MiB with outages in cut mode (CROSSLINK_OUTAGE_MODE=cut)
//                     and resume disabled (CROSSLINK_RESUME=0) until one fails or SECONDS pass;
//   resume SECONDS    the same with resume on: every allreduce must succeed and be exact; the
//                     ranks stop together once one rank's SECONDS have passed (a max of one
//                     flag after each allreduce); the message reports "N allreduces, R chunks
//                     resent, O outages".
// Each rank prints "result: CODE after S s: MESSAGE" (CODE as absl spells it, OK on success) and
// exits 0 on success, 1 on a collective error, 2 on a usage or setup error. Collectives run with
// a 20 s timeout, so the test can tell a prompt failure from a deadline.
#include <signal.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/communicator.h"

namespace {

using crosslink::collectives::DataType;
using crosslink::collectives::ReduceOp;
using crosslink::runtime::CollectiveOptions;
using crosslink::runtime::Communicator;

float Value(int rank, size_t i) {
  return static_cast<float>((rank * 7 + static_cast<int>(i % 97)) % 101);
}

absl::Status CheckedAllreduce(Communicator& comm, size_t count, const CollectiveOptions& options) {
  std::vector<float> data(count);
  for (size_t i = 0; i < count; ++i) data[i] = Value(comm.rank(), i);
  absl::Status status =
      comm.Allreduce(data.data(), count, DataType::kFloat32, ReduceOp::kSum, options);
  if (!status.ok()) return status;
  for (size_t i = 0; i < count; ++i) {
    float expected = 0;
    for (int r = 0; r < comm.world_size(); ++r) expected += Value(r, i);
    if (data[i] != expected) {
      return absl::InternalError(
          absl::StrCat("element ", i, " is ", data[i], ", expected ", expected));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crosslink-test-communicator-worker MODE ARG\n");
    return 2;
  }
  const std::string mode = argv[1];
  const long arg = std::atol(argv[2]);
  if (mode == "cut" || mode == "resume") setenv("CROSSLINK_OUTAGE_MODE", "cut", 1);
  if (mode == "cut") setenv("CROSSLINK_RESUME", "0", 1);
  auto comm = Communicator::CreateFromEnvironment(absl::Seconds(60));
  if (!comm.ok()) {
    std::fprintf(stderr, "setup: %s\n", comm.status().ToString().c_str());
    return 2;
  }
  std::printf("transport: %s\n", (*comm)->transport_summary().c_str());
  CollectiveOptions options;
  options.timeout = absl::Seconds(20);
  const int rank = (*comm)->rank();
  const absl::Time start = absl::Now();
  absl::Status status;
  if (mode == "allreduce") {
    status = CheckedAllreduce(**comm, static_cast<size_t>(arg), options);
  } else if (mode == "mismatch") {
    status = CheckedAllreduce(**comm, static_cast<size_t>(arg) + (rank == 1 ? 4 : 0), options);
  } else if (mode == "kill") {
    status = CheckedAllreduce(**comm, 1 << 16, options);
    if (status.ok() && rank == arg) raise(SIGKILL);
    // The survivors keep going: only the victim's death can end this loop.
    for (int i = 0; status.ok() && i < 100000; ++i) {
      status = CheckedAllreduce(**comm, 1 << 16, options);
    }
  } else if (mode == "cut") {
    const absl::Time stop = start + absl::Seconds(arg);
    while (status.ok() && absl::Now() < stop) status = CheckedAllreduce(**comm, 1 << 18, options);
  } else if (mode == "resume") {
    const absl::Time stop = start + absl::Seconds(arg);
    int64_t allreduces = 0;
    int64_t resent = 0;
    // The ranks stop together: each says whether its time is up and they take the max, so no
    // rank starts an allreduce that a rank which stopped by its own clock would never join.
    for (bool done = false; status.ok() && !done;) {
      status = CheckedAllreduce(**comm, 1 << 18, options);
      if (!status.ok()) break;
      ++allreduces;
      resent += (*comm)->last_stats().chunks_resent;
      float time_up = absl::Now() >= stop ? 1.0f : 0.0f;
      status = (*comm)->Allreduce(&time_up, 1, DataType::kFloat32, ReduceOp::kMax, options);
      // A cut can strike this small allreduce too (about half the collectives run): what it
      // resent counts as well, or a run whose cuts all fell here would report none.
      if (status.ok()) resent += (*comm)->last_stats().chunks_resent;
      done = time_up > 0;
    }
    if (status.ok()) {
      std::printf("resume: %lld allreduces, %lld chunks resent, %lld outages\n",
                  static_cast<long long>(allreduces), static_cast<long long>(resent),
                  static_cast<long long>((*comm)->outages_met()));
    }
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  std::printf("result: %s after %.2f s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
              absl::ToDoubleSeconds(absl::Now() - start), std::string(status.message()).c_str());
  std::fflush(stdout);
  return status.ok() ? 0 : 1;
}
