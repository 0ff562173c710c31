#include "crosslink/collectives/collectives.h"

#include "crosslink/collectives/algorithms.h"
#include "run_plan.h"

namespace crosslink::collectives {
namespace {

PlanRequest Request(const CollectiveContext& context, size_t count, DataType type, ReduceOp op,
                    const CollectiveOptions& options) {
  PlanRequest request;
  request.world_size = context.world_size;
  request.count = count;
  request.type = type;
  request.op = op;
  request.max_segment_bytes = options.max_segment_bytes;
  request.only_rank = context.rank;
  return request;
}

}  // namespace

absl::Status ReduceScatter(const CollectiveContext& context, void* buffer, size_t count,
                           DataType type, ReduceOp op, const CollectiveOptions& options) {
  return internal::RunPlan(context, PlanReduceScatter(Request(context, count, type, op, options)),
                           buffer, nullptr, options.deadline);
}

absl::Status Allgather(const CollectiveContext& context, const void* input, void* output,
                       size_t count, DataType type, const CollectiveOptions& options) {
  return internal::RunPlan(context,
                           PlanAllgather(Request(context, count, type, ReduceOp::kSum, options)),
                           output, input, options.deadline);
}

absl::Status Broadcast(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       int root, const CollectiveOptions& options) {
  PlanRequest request = Request(context, count, type, ReduceOp::kSum, options);
  request.root = root;
  return internal::RunPlan(context, PlanBroadcast(request), buffer, nullptr, options.deadline);
}

absl::Status Barrier(const CollectiveContext& context, const CollectiveOptions& options) {
  return internal::RunPlan(
      context, PlanBarrier(Request(context, 0, DataType::kFloat32, ReduceOp::kSum, options)),
      nullptr, nullptr, options.deadline);
}

}  // namespace crosslink::collectives
