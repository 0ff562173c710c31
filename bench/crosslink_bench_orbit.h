// The outage benchmark of crosslink-bench: allreduce iterations back to back along the orbit, one
// row per iteration (orbit time at its start, wall time it took, outages met, wrong elements,
// failed), for one algorithm and optionally a comparison algorithm run as a second job over the
// same orbit span, with a CSV and a gnuplot PNG of time per iteration against orbit time with
// the predicted-or-not outages of the rank-order ring's links shaded.
//
//   crosslink-bench orbit --scenario FILE --ranks N --bytes S --algo A [--iters K | --orbit-s T]
//       [--start-s T0] [--time-scale X] [--deadline-s D] [--csv OUT] [--plot OUT.png]
//       [--compare naive-ring]
//
// Algorithms: naive-ring (the rank-order ring that waits for every link it meets down, as NCCL or
// Gloo would), ring, tree, auto (the cost model's pick in rank order) and contact-aware
// (CollectiveOptions::contact_aware). --start-s and --time-scale set the job's orbit clock
// (CROSSLINK_ORBIT_START_S, CROSSLINK_TIME_SCALE). An iteration that does not finish within
// --deadline-s wall seconds fails with kDeadlineExceeded: it is recorded as failed, and the job
// stops there, since a failed collective leaves the communicator's links out of step.
//
// Each algorithm runs as its own job of N ranks of this program; every rank writes its rows to a
// file in a private folder and the launching process merges them: wall time is the slowest rank's,
// outages and wrong elements are summed over ranks, an iteration failed when any rank's did.
//
// Blocking: runs jobs to completion. Errors name the flag, the file or the rank.
#ifndef CROSSLINK_BENCH_CROSSLINK_BENCH_ORBIT_H_
#define CROSSLINK_BENCH_CROSSLINK_BENCH_ORBIT_H_

#include <string>
#include <vector>

namespace crosslink::bench {

// True when argv (without the program name) asks for the orbit mode.
bool IsOrbitMode(const std::vector<std::string>& args);

// The whole orbit mode: the launching side when RANK is unset, a rank otherwise. Returns the
// process exit code (0 ok, 1 a failure or wrong results, 2 bad arguments).
int RunOrbitMode(const std::vector<std::string>& args);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_CROSSLINK_BENCH_ORBIT_H_
