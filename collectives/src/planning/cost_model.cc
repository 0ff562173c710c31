#include "crosslink/collectives/cost_model.h"

#include <algorithm>

namespace crosslink::collectives {
namespace {

int CeilLog2(int n) {
  int levels = 0;
  while ((1 << levels) < n) ++levels;
  return levels;
}

double SecondsPerByte(const LinkCostHints& hints) {
  return hints.rate_bps > 0 ? 8.0 / hints.rate_bps : 0.0;
}

}  // namespace

double RingAllreduceTimeS(int world_size, size_t bytes, const LinkCostHints& hints) {
  if (world_size <= 1) return 0.0;
  const double n = world_size;
  return 2.0 * (n - 1.0) * hints.latency_s +
         2.0 * (n - 1.0) / n * static_cast<double>(bytes) * SecondsPerByte(hints);
}

double TreeAllreduceTimeS(int world_size, size_t bytes, const LinkCostHints& hints) {
  if (world_size <= 1) return 0.0;
  const double levels = CeilLog2(world_size);
  return 2.0 * levels * (hints.latency_s + static_cast<double>(bytes) * SecondsPerByte(hints));
}

AllreduceAlgorithm ChooseAllreduceAlgorithm(int world_size, size_t bytes,
                                            const LinkCostHints& hints) {
  return TreeAllreduceTimeS(world_size, bytes, hints) < RingAllreduceTimeS(world_size, bytes, hints)
             ? AllreduceAlgorithm::kTree
             : AllreduceAlgorithm::kRing;
}

}  // namespace crosslink::collectives
