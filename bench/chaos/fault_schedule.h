// FaultSchedule: which fault a crosslink-chaos campaign injects next, drawn from a seed, so that a
// campaign that found a bug can be replayed. The driver injects the process-level kinds itself
// (SIGKILL, SIGSTOP past the heartbeat window, a coordinator kill, a late join); the link-level
// kinds (a link cut mid-collective, a corrupted message) come from the scenario the job plays,
// whose fault process and bit-error process draw from the same seed ([faults] seed), and are
// counted where the ranks meet them. Not thread-safe.
#ifndef CROSSLINK_BENCH_CHAOS_FAULT_SCHEDULE_H_
#define CROSSLINK_BENCH_CHAOS_FAULT_SCHEDULE_H_

#include <array>
#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace crosslink::chaos {

enum class FaultKind {
  kRankKill,         // SIGKILL a rank; the driver restarts it and it rejoins
  kRankStop,         // SIGSTOP past the heartbeat window, SIGCONT: refused as stale, restarted
  kCoordinatorKill,  // SIGKILL the coordinator, restart it on the same port from its state file
  kLateJoin,         // a rank away for a while (killed, restarted late) joins a job that moved on
  kLinkCut,          // an emulated link cut under a collective (scenario [faults] link_mtbf_s)
  kCorruption,       // a bit error caught as kDataLoss (scenario [faults] corruption_mtbf_s)
};
inline constexpr int kFaultKinds = 6;
const char* FaultName(FaultKind kind);
// Whether the driver injects it (otherwise the scenario does).
bool DriverInjected(FaultKind kind);

// Relative weights of the driver-injected kinds (the others' rate is the scenario's).
// Coordinator kills recover fastest, SIGSTOPs slowest (a heartbeat window and a rejoin).
struct FaultWeights {
  double kill = 3;
  double stop = 1;
  double coordinator = 3;
  double late_join = 1;
};

struct ScheduledFault {
  FaultKind kind = FaultKind::kRankKill;
  int rank = 0;  // the victim of a rank fault
};

class FaultSchedule {
 public:
  // `ranks` >= 2. A rank fault's victim is any rank, rank 0 included (the lowest live rank leads
  // the agreements and is the state source, so its death is the harder case).
  FaultSchedule(uint64_t seed, int ranks, FaultWeights weights);
  ScheduledFault Next();

 private:
  std::mt19937_64 rng_;
  int ranks_;
  std::array<double, 4> cumulative_;
};

}  // namespace crosslink::chaos

#endif  // CROSSLINK_BENCH_CHAOS_FAULT_SCHEDULE_H_
