// Ring reduce-scatter (see algorithms.h): the first half of the ring allreduce on its own.
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanReduceScatter(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "ring_reduce_scatter";
  ASSIGN_OR_RETURN(const internal::PlanShape request, internal::ShapeFor(spec, only_rank, kName));
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
