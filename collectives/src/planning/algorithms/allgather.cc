// Ring allgather (see algorithms.h): each rank first copies its contribution into its block of
// the output (skipped by the executor when the caller passed it in place), then the ring moves
// every block n-1 hops.
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanAllgather(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "ring_allgather";
  ASSIGN_OR_RETURN(const internal::PlanShape request, internal::ShapeFor(spec, only_rank, kName));
  const uint64_t chunks =
      static_cast<uint64_t>(request.world_size) * internal::RingSegmentsPerBlock(request);
  if (absl::Status s = internal::CheckChunkSpace(chunks, kName); !s.ok()) return s;
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kAllgather);
  for (int r = 0; r < request.world_size; ++r) {
    if (!internal::Wanted(request, r)) continue;
    const Range own = BlockRange(request.count, request.world_size, r);
    plan.ranks[r].push_back(Step{StepOp::kCopy, -1, own.offset, own.count, 0, 0, 0});
    internal::AppendRingAllgather(request, r, 0, 1, plan.ranks[r]);
  }
  return plan;
}

}  // namespace crosslink::collectives
