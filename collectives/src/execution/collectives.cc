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
                 const CollectiveOptions& options, absl::Span<const size_t> send_counts = {},
                 absl::Span<const size_t> recv_counts = {}) {
  const absl::Time start = absl::Now();
  if (options.min_participants != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", context.rank, " ", std::string(CollectiveKindName(kind)), ": min_participants ",
        options.min_participants, " needs an agreement channel (the runtime's Communicator)"));
  }
  CollectiveSpec spec =
      MakeCollectiveSpec(kind, context.world_size, count, type, op, root, options);
  spec.contact_aware = false;  // no agreed orbit time at this layer (allreduce.h)
  spec.send_counts.assign(send_counts.begin(), send_counts.end());
  spec.recv_counts.assign(recv_counts.begin(), recv_counts.end());
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

absl::Status Alltoall(const CollectiveContext& context, const void* input, void* output,
                      size_t count, DataType type, const CollectiveOptions& options) {
  return Run(context, CollectiveKind::kAlltoall, count, type, ReduceOp::kSum, 0, output, input,
             options);
}

absl::Status Alltoall(const CollectiveContext& context, const void* input,
                      absl::Span<const size_t> send_counts, void* output,
                      absl::Span<const size_t> recv_counts, DataType type,
                      const CollectiveOptions& options) {
  if (send_counts.size() != static_cast<size_t>(context.world_size) ||
      recv_counts.size() != static_cast<size_t>(context.world_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", context.rank, " alltoall: ", send_counts.size(), " send counts and ",
                     recv_counts.size(), " receive counts for world size ", context.world_size));
  }
  size_t count = 0;
  for (size_t c : recv_counts) count += c;  // ValidateSpec checks the sum against overflow
  return Run(context, CollectiveKind::kAlltoall, count, type, ReduceOp::kSum, 0, output, input,
             options, send_counts, recv_counts);
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
