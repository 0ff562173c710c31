#include "crosslink/collectives/allreduce.h"

#include "crosslink/collectives/algorithms.h"
#include "run_plan.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanAllreduce(int world_size, int rank, size_t count, DataType type,
                                   ReduceOp op, const AllreduceOptions& options) {
  PlanRequest request;
  request.world_size = world_size;
  request.count = count;
  request.type = type;
  request.op = op;
  request.max_segment_bytes = options.max_segment_bytes;
  request.only_rank = rank;
  request.compression = options.compression;
  AllreduceAlgorithm algorithm = options.algorithm;
  if (algorithm == AllreduceAlgorithm::kAuto) {
    algorithm =
        ChooseAllreduceAlgorithm(world_size, count * DataTypeSize(type), options.cost_hints);
  }
  return algorithm == AllreduceAlgorithm::kTree ? PlanTreeAllreduce(request)
                                                : PlanRingAllreduce(request);
}

absl::Status Allreduce(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       ReduceOp op, const AllreduceOptions& options) {
  return internal::RunPlan(
      context, PlanAllreduce(context.world_size, context.rank, count, type, op, options), buffer,
      /*input=*/nullptr, options.deadline, options.error_feedback);
}

}  // namespace crosslink::collectives
