// The ring bound, crosslink-bench's bound_ratio yardstick on ideal links (on a scenario it is the
// oracle, oracle_bound.h: with ranks a different number of hops apart, this is no lower bound). A
// ring allreduce of S bytes over n ranks moves 2(n-1)/n * S bytes through each rank's outgoing
// link in 2(n-1) dependent steps; over links of rate B (bytes/s) and one-way latency alpha (s) an
// unsegmented ring therefore takes at least
//   bound_s = 2(n-1)/n * S/B + 2(n-1) * alpha
// (the alpha-beta model's ring time, cost_model.h). A segmented, pipelined ring overlaps the
// steps' latencies with later segments' transfers, so it can come in below this by up to about
// (2n-3) * alpha: a ratio under 1 means the latency was hidden, not that the links were beaten.
// The bandwidth term alone, 2(n-1)/n * S/B, is the hard floor.
// Pure functions over plain data; thread-safe.
#ifndef CROSSLINK_BENCH_LIB_RING_BOUND_H_
#define CROSSLINK_BENCH_LIB_RING_BOUND_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::bench {

// The ring bound in seconds. 0 for a single rank (nothing to move). rate_bytes_per_s must be > 0.
double RingAllreduceBoundS(int ranks, double bytes, double rate_bytes_per_s, double latency_s);

// The link parameters a ring runs at: the narrowest rate and the largest latency of its hops.
struct RingLinkParams {
  double rate_bytes_per_s = 0;
  double latency_s = 0;
};

// The ring rank i -> rank i+1 (mod n) over the satellites hosting the ranks
// (rank_satellites[i] is rank i's satellite index in `plan`), at orbit time t_s. Each hop takes
// the route the emulator would use (the direct link when it is up, else the least-latency path);
// the result has the slowest hop's rate and latency. kUnavailable naming the two ranks and their
// satellites when a hop has no route at t_s; kInvalidArgument for a satellite index outside the
// plan or fewer than 2 ranks.
absl::StatusOr<RingLinkParams> RingLinkParamsAt(const linkmodel::ContactPlan& plan,
                                                const std::vector<int>& rank_satellites,
                                                double t_s);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_RING_BOUND_H_
