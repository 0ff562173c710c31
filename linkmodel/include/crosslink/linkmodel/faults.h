// Faults: the surprise outages of the true contact plan (absent from the predicted one). Each
// link alternates exponential up times (mean link_mtbf_s) and down times (mean link_mttr_s),
// starting up at t = 0; each satellite suffers resets (up mean satellite_mtbf_s, down mean
// satellite_mttr_s) that take every one of its links down.
//
// Determinism: the same seed gives the same faults bit for bit on every build and thread count.
// Every link and every satellite draws from its own xoshiro256** stream, seeded through SplitMix64
// from (seed, kind, index), and samples -log(1 - u) * mean; nothing depends on evaluation order.
// Pure functions; thread-safe.
#ifndef CROSSLINK_LINKMODEL_FAULTS_H_
#define CROSSLINK_LINKMODEL_FAULTS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/topology.h"

namespace crosslink::linkmodel {

// xoshiro256** (Blackman and Vigna), seeded by SplitMix64: small, fast and the same everywhere.
class FaultRng {
 public:
  // A stream for (seed, stream_kind, index); distinct triples give independent streams.
  FaultRng(uint64_t seed, uint64_t stream_kind, uint64_t index);
  uint64_t Next();
  double Uniform();                 // [0, 1), 53 bits
  double Exponential(double mean);  // -log(1 - u) * mean

 private:
  uint64_t s_[4];
};

// [start_s, end_s), seconds since the epoch.
struct FaultInterval {
  double start_s = 0;
  double end_s = 0;
};

// The most outage intervals a fault draw may expect to store (about 16 bytes each):
// duration_s / (mtbf + mttr) per link, plus the satellite resets counted once per satellite and
// once per link end.
inline constexpr double kMaxExpectedFaultIntervals = 1e8;

// Down intervals of each candidate link over [0, duration_s), sorted, merged, clipped to the
// window: result[i] belongs to links[i]. Link faults and the resets of both ends are combined.
// kInvalidArgument when a mean is negative or not finite, an MTBF is set without its MTTR,
// num_satellites is negative, or the expected number of intervals exceeds
// kMaxExpectedFaultIntervals (checked before anything is drawn).
absl::StatusOr<std::vector<std::vector<FaultInterval>>> GenerateFaults(
    const FaultConfig& config, const std::vector<CandidateLink>& links, int num_satellites,
    double duration_s);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_FAULTS_H_
