#include "crosslink/collectives/run_collective.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/executor.h"
#include "crosslink/collectives/planning/plan_choice.h"

namespace crosslink::collectives {

absl::Status RunCollective(const CollectiveContext& context, const CollectiveSpec& requested,
                           const CollectiveBuffers& buffers, absl::Time deadline,
                           std::string* algorithm) {
  if (requested.world_size != context.world_size ||
      static_cast<int>(context.connections.size()) != context.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", context.rank, ": a ", DescribeSpec(requested), " for a world of ",
                     requested.world_size, " ranks in a group of ", context.world_size, " with ",
                     context.connections.size(), " connections"));
  }
  const CollectiveSpec spec = ResolveAlgorithm(requested, context.cost_hints);
  const int plan_rank = spec.PlanRank(context.rank);
  if (plan_rank < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", context.rank, " is not a participant of ", DescribeSpec(spec)));
  }
  std::shared_ptr<const Plan> plan;
  // An uneven alltoall's splits change from call to call (a mixture of experts' routing): its
  // plans are made per call, cheaply, rather than cached, where they would only push the reused
  // plans out.
  const bool cacheable = spec.send_counts.empty() && spec.recv_counts.empty();
  if (context.plan_cache != nullptr && cacheable) {
    absl::StatusOr<std::shared_ptr<const Plan>> cached = context.plan_cache->Get(spec, plan_rank);
    if (!cached.ok()) return cached.status();
    plan = *std::move(cached);
  } else {
    absl::StatusOr<Plan> made = PlanCollective(spec, plan_rank);
    if (!made.ok()) return made.status();
    plan = std::make_shared<const Plan>(*std::move(made));
  }
  if (algorithm != nullptr) *algorithm = plan->algorithm;

  // Plan rank i talks over this rank's connection to group rank spec.GroupRank(i).
  const int k = spec.plan_world_size();
  std::vector<Connection*> connections(k, nullptr);
  std::vector<int> names(k);
  for (int i = 0; i < k; ++i) {
    names[i] = spec.GroupRank(i);
    if (i != plan_rank) connections[i] = context.connections[names[i]];
  }
  ExecuteArgs args;
  args.plan = plan.get();
  args.rank = plan_rank;
  args.connections = connections;
  args.job_id = context.job_id;
  args.sequence = context.sequence;
  args.data = buffers.data;
  args.input = buffers.input;
  args.deadline = deadline;
  args.error_feedback = buffers.error_feedback;
  args.rank_names = names;  // messages name group ranks, not plan ranks
  return ExecutePlan(args);
}

}  // namespace crosslink::collectives
