// PlanCollective (algorithms.h): the one dispatch from a resolved spec to its planner.
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanCollective(const CollectiveSpec& spec, int only_rank) {
  switch (spec.kind) {
    case CollectiveKind::kAllreduce: {
      if (spec.algorithm == AllreduceAlgorithm::kAuto) {
        return absl::InvalidArgumentError(
            "allreduce spec with algorithm kAuto: resolve it before planning (plan_choice.h)");
      }
      const bool tree = spec.algorithm == AllreduceAlgorithm::kTree;
      ASSIGN_OR_RETURN(Plan plan, tree ? PlanTreeAllreduce(spec, only_rank)
                                       : PlanRingAllreduce(spec, only_rank));
      // The contact-aware planner's choice is the standard plan over its rank order; the name
      // tells logs and statistics why this order was run.
      if (spec.contact_aware) plan.algorithm = tree ? "contact_aware_tree" : "contact_aware_ring";
      return plan;
    }
    case CollectiveKind::kReduceScatter:
      return PlanReduceScatter(spec, only_rank);
    case CollectiveKind::kAllgather:
      return PlanAllgather(spec, only_rank);
    case CollectiveKind::kBroadcast:
      return PlanBroadcast(spec, only_rank);
    case CollectiveKind::kBarrier:
      return PlanBarrier(spec, only_rank);
    case CollectiveKind::kAlltoall:
      return PlanAlltoall(spec, only_rank);
  }
  return absl::InvalidArgumentError("unknown collective kind");
}

}  // namespace crosslink::collectives
