// The collectives' entry points (allreduce.h, collectives.h): each makes its spec and takes the
// one path, RunCollective.
#include "crosslink/collectives/collectives.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/run_collective.h"

namespace crosslink::collectives {
namespace {

absl::Status Run(const CollectiveContext& context, CollectiveKind kind, size_t count, DataType type,
                 ReduceOp op, int root, void* data, const void* input,
                 const CollectiveOptions& options) {
  const absl::Time start = absl::Now();
  if (options.min_participants != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", context.rank, " ", std::string(CollectiveKindName(kind)), ": min_participants ",
        options.min_participants, " needs an agreement channel (the runtime's Communicator)"));
  }
  CollectiveSpec spec =
      MakeCollectiveSpec(kind, context.world_size, count, type, op, root, options);
  spec.contact_aware = false;  // no agreed orbit time at this layer (allreduce.h)
  return RunCollective(context, spec, {data, input, options.error_feedback},
                       options.Deadline(start));
}

}  // namespace

absl::Status Allreduce(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       ReduceOp op, const CollectiveOptions& options) {
  return Run(context, CollectiveKind::kAllreduce, count, type, op, 0, buffer, nullptr, options);
}

absl::Status ReduceScatter(const CollectiveContext& context, void* buffer, size_t count,
                           DataType type, ReduceOp op, const CollectiveOptions& options) {
  return Run(context, CollectiveKind::kReduceScatter, count, type, op, 0, buffer, nullptr, options);
}

absl::Status Allgather(const CollectiveContext& context, const void* input, void* output,
                       size_t count, DataType type, const CollectiveOptions& options) {
  return Run(context, CollectiveKind::kAllgather, count, type, ReduceOp::kSum, 0, output, input,
             options);
}

absl::Status Broadcast(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       int root, const CollectiveOptions& options) {
  return Run(context, CollectiveKind::kBroadcast, count, type, ReduceOp::kSum, root, buffer,
             nullptr, options);
}

absl::Status Barrier(const CollectiveContext& context, const CollectiveOptions& options) {
  return Run(context, CollectiveKind::kBarrier, 0, DataType::kFloat32, ReduceOp::kSum, 0, nullptr,
             nullptr, options);
}

}  // namespace crosslink::collectives
