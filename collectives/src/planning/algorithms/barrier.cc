// Dissemination barrier (Hensgen, Finkel & Manber): in round k every rank sends an empty message
// to rank + 2^k and waits for one from rank - 2^k. After ceil(log2 n) rounds every rank has
// heard, directly or through others, from every rank, so none leaves before all arrived. Works
// for any n, unlike pairwise exchange.
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanBarrier(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "dissemination_barrier";
  CollectiveSpec normalized = spec;
  normalized.count = 0;
  normalized.op = ReduceOp::kSum;
  normalized.root = spec.GroupRank(0);  // unused: any participant (a subset may lack rank 0)
  normalized.max_segment_bytes = 64;    // only empty messages: keep the staging slots small
  normalized.compression = WireCompression::kNone;
  ASSIGN_OR_RETURN(const internal::PlanShape request,
                   internal::ShapeFor(normalized, only_rank, kName));
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kBarrier);
  const int n = request.world_size;
  for (int r = 0; r < n; ++r) {
    if (!internal::Wanted(request, r)) continue;
    uint32_t round = 0;
    for (int distance = 1; distance < n; distance <<= 1, ++round) {
      plan.ranks[r].push_back(Step{StepOp::kSend, (r + distance) % n, 0, 0, 0, round, round});
      plan.ranks[r].push_back(
          Step{StepOp::kRecv, ((r - distance) % n + n) % n, 0, 0, 0, round, round});
    }
  }
  return plan;
}

}  // namespace crosslink::collectives
