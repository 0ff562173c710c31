// The oracle bound, crosslink-bench's yardstick on every scenario run. The best a collective can
// do over the ranks' links depends on their real per-pair latencies and rates (neighbours one hop
// apart, others relayed over several) and, where links go down, on when it starts; so the bound
// is the simulator's oracle (simulator.h SimulateOracle): the best completion time among the
// contact-aware ring and tree planned from the TRUE contact plan and the naive ring, simulated
// over the truth from the orbit time each iteration started. A planner that sees only the
// prediction cannot beat it with these shapes (bar the simulator's approximations), nor can the
// rank-order ring or tree on links that stay up, so time / oracle >= about 1 and 1.0 is perfect.
// (The ring bound of ring_bound.h, with the worst hop's latency on every step, is no lower bound
// when the ranks' hops differ: the tree or a better ring order avoids the slow hop.)
//
// Time frames. The link emulator applies rate and latency unscaled (wall seconds) and plays
// outages at time_scale orbit seconds per wall second (link_emulator.h), so with time_scale != 1
// the oracle is simulated over a copy of the truth whose times are divided by time_scale
// (WallFramePlan): then every duration it reports is in wall seconds, as the bench measures.
//
// Thread-compatible: OracleBound is immutable after Create, so concurrent const calls are safe.
// Status codes: kInvalidArgument (time_scale <= 0, bytes < 4, satellites outside the plan),
// kDeadlineExceeded when no candidate finishes within options.simulator.deadline_s (wall s), and
// the planners' and simulator's codes.
#ifndef CROSSLINK_BENCH_LIB_ORACLE_BOUND_H_
#define CROSSLINK_BENCH_LIB_ORACLE_BOUND_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/collectives/simulator.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::bench {

// True when some candidate link between two of the ranks' satellites is not up (any state but
// kUp, so re-acquisition counts) at some instant of [t0_s, t1_s] (orbit seconds): the spans where
// the oracle depends on the start time.
bool RankLinksHaveDownTime(const linkmodel::ContactPlan& truth,
                           const std::vector<int>& rank_satellites, double t0_s, double t1_s);

// A copy of `plan` with every time divided by time_scale (segments, window, range samples'
// spacing); rates and ranges are unchanged. time_scale must be > 0.
absl::StatusOr<linkmodel::ContactPlan> WallFramePlan(const linkmodel::ContactPlan& plan,
                                                     double time_scale);

struct OracleBoundOptions {
  // The runtime's defaults (512 KiB segments, float32 sum), so that the oracle plans the messages
  // the bench sends.
  collectives::ContactAwareOptions planner;
  // deadline_s is in wall seconds here (the bench's collective timeout).
  collectives::SimulatorOptions simulator;
  double time_scale = 1.0;  // orbit seconds per wall second of the job's clock
};

class OracleBound {
 public:
  // Keeps `truth` (the job's true contact plan, in orbit seconds) or, with time_scale != 1, a
  // wall-frame copy of it. rank_satellites[i] is rank i's satellite in `truth`.
  static absl::StatusOr<OracleBound> Create(std::shared_ptr<const linkmodel::ContactPlan> truth,
                                            std::vector<int> rank_satellites,
                                            OracleBoundOptions options);

  // The oracle's completion time, in wall seconds, of an allreduce of `bytes` (float32) that
  // starts at orbit time orbit_start_s.
  absl::StatusOr<double> WallSeconds(int64_t bytes, double orbit_start_s) const;
  // The mean of WallSeconds over the given start times (one per timed iteration); the first
  // error when any start has no finishing candidate. kInvalidArgument for no start times.
  absl::StatusOr<double> MeanWallSeconds(int64_t bytes,
                                         absl::Span<const double> orbit_start_s) const;

 private:
  OracleBound(std::shared_ptr<const linkmodel::ContactPlan> plan, std::vector<int> sats,
              OracleBoundOptions options)
      : plan_(std::move(plan)), sats_(std::move(sats)), options_(options) {}

  std::shared_ptr<const linkmodel::ContactPlan> plan_;  // in wall-frame time
  std::vector<int> sats_;
  OracleBoundOptions options_;
};

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_ORACLE_BOUND_H_
