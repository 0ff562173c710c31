// Ring reduce-scatter (see algorithms.h): the first half of the ring allreduce on its own.
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanReduceScatter(const PlanRequest& request) {
  constexpr char kName[] = "ring_reduce_scatter";
  if (absl::Status s = internal::ValidateRequest(request, kName); !s.ok()) return s;
  const uint64_t chunks =
      static_cast<uint64_t>(request.world_size) * internal::RingSegmentsPerBlock(request);
  if (absl::Status s = internal::CheckChunkSpace(chunks, kName); !s.ok()) return s;
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kReduceScatter);
  for (int r = 0; r < request.world_size; ++r) {
    if (internal::Wanted(request, r))
      internal::AppendRingReduceScatter(request, r, 0, 0, plan.ranks[r]);
  }
  return plan;
}

}  // namespace crosslink::collectives
