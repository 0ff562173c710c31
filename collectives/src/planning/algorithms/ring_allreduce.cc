// Ring allreduce: reduce-scatter around the ring, then allgather around it (see algorithms.h).
// Chunk numbers: reduce-scatter segments first (block * segments_per_block + segment), then the
// allgather's, offset by n * segments_per_block.
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanRingAllreduce(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "ring_allreduce";
  ASSIGN_OR_RETURN(const internal::PlanShape request, internal::ShapeFor(spec, only_rank, kName));
  const uint64_t per_phase =
      static_cast<uint64_t>(request.world_size) * internal::RingSegmentsPerBlock(request);
  if (absl::Status s = internal::CheckChunkSpace(2 * per_phase, kName); !s.ok()) return s;
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kAllreduce);
  const int n = request.world_size;
  for (int r = 0; r < n; ++r) {
    if (!internal::Wanted(request, r)) continue;
    std::vector<Step>& steps = plan.ranks[r];
    internal::AppendRingReduceScatter(request, r, 0, 0, steps);
    internal::AppendRingAllgather(request, r, static_cast<uint32_t>(per_phase), n, steps);
  }
  return plan;
}

}  // namespace crosslink::collectives
