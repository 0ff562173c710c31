// The other collectives, in the same style as Allreduce (allreduce.h): collective (every rank
// calls with the same arguments and context sequence number; disagreement gives kInvalidArgument
// on the ranks that can see it), blocking until done or options.Deadline(now), buffers borrowed
// for the call and unspecified after a failure. Status codes as in executor.h. Each builds the
// collective's spec (MakeCollectiveSpec) and runs it through RunCollective (run_collective.h),
// the one path every collective takes.
//
// Uneven sizes: buffers of `count` elements are cut into world-size blocks with
// BlockRange(count, world_size, rank) (plan.h): the first count % n blocks hold one element more;
// blocks may be empty.
#ifndef CROSSLINK_COLLECTIVES_COLLECTIVES_H_
#define CROSSLINK_COLLECTIVES_COLLECTIVES_H_

#include <cstddef>

#include "absl/status/status.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives {

// In place: on entry `buffer` holds this rank's count elements; on return its block
// BlockRange(count, world_size, rank) holds the reduced values (kAvg divided), bit-identical to
// what Allreduce's ring would give; the rest of the buffer holds partial results.
absl::Status ReduceScatter(const CollectiveContext& context, void* buffer, size_t count,
                           DataType type, ReduceOp op, const CollectiveOptions& options);

// `output` holds count elements on return: block r is rank r's `input` (BlockRange(count,
// world_size, r).count elements). `input` may point at this rank's block of `output` (in place)
// or be nullptr when the block is already there.
absl::Status Allgather(const CollectiveContext& context, const void* input, void* output,
                       size_t count, DataType type, const CollectiveOptions& options);

// Every rank's buffer ends with root's count elements.
absl::Status Broadcast(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       int root, const CollectiveOptions& options);

// Returns once every rank has entered.
absl::Status Barrier(const CollectiveContext& context, const CollectiveOptions& options);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COLLECTIVES_H_
