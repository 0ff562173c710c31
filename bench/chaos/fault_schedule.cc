#include "bench/chaos/fault_schedule.h"

namespace crosslink::chaos {

const char* FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kRankKill:
      return "rank_sigkill";
    case FaultKind::kRankStop:
      return "rank_sigstop";
    case FaultKind::kCoordinatorKill:
      return "coordinator_kill";
    case FaultKind::kLateJoin:
      return "late_join";
    case FaultKind::kLinkCut:
      return "link_cut";
    case FaultKind::kCorruption:
      return "corruption";
  }
  return "?";
}

bool DriverInjected(FaultKind kind) {
  return kind != FaultKind::kLinkCut && kind != FaultKind::kCorruption;
}

FaultSchedule::FaultSchedule(uint64_t seed, int ranks, FaultWeights weights)
    : rng_(seed), ranks_(ranks) {
  cumulative_ = {weights.kill, weights.stop, weights.coordinator, weights.late_join};
  for (size_t i = 1; i < cumulative_.size(); ++i) cumulative_[i] += cumulative_[i - 1];
}

ScheduledFault FaultSchedule::Next() {
  // Drawn from the raw stream (not std:: distributions, whose algorithms the library picks), so
  // a seed replays the same campaign wherever it runs.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * cumulative_.back();
  static constexpr FaultKind kKinds[] = {FaultKind::kRankKill, FaultKind::kRankStop,
                                         FaultKind::kCoordinatorKill, FaultKind::kLateJoin};
  ScheduledFault f;
  f.kind = kKinds[3];
  for (size_t i = 0; i < cumulative_.size(); ++i) {
    if (u < cumulative_[i]) {
      f.kind = kKinds[i];
      break;
    }
  }
  f.rank = static_cast<int>(rng_() % static_cast<uint64_t>(ranks_));
  return f;
}

}  // namespace crosslink::chaos
