#include "run_plan.h"

#include "crosslink/collectives/executor.h"

namespace crosslink::collectives::internal {

absl::Status RunPlan(const CollectiveContext& context, const absl::StatusOr<Plan>& plan, void* data,
                     const void* input, absl::Time deadline, ErrorFeedback* error_feedback) {
  if (!plan.ok()) return plan.status();
  ExecuteArgs args;
  args.plan = &*plan;
  args.rank = context.rank;
  args.connections = context.connections;
  args.job_id = context.job_id;
  args.sequence = context.sequence;
  args.data = data;
  args.input = input;
  args.deadline = deadline;
  args.error_feedback = error_feedback;
  return ExecutePlan(args);
}

}  // namespace crosslink::collectives::internal
