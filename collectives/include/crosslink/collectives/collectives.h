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
#include "absl/types/span.h"
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

// Alltoall, even splits: `input` and `output` hold count elements each (count a multiple of
// world_size, else kInvalidArgument), cut into world_size blocks of m = count / world_size;
// afterwards output block j holds rank j's input block r (for this rank r). `input` is only read
// and must not overlap `output` (kInvalidArgument). Any type; options.compression,
// options.algorithm and options.contact_aware are ignored (nothing is reduced; the pairwise
// exchange is the one plan, algorithms.h).
absl::Status Alltoall(const CollectiveContext& context, const void* input, void* output,
                      size_t count, DataType type, const CollectiveOptions& options);

// Alltoall, uneven splits (torch's all_to_all_single with split sizes): `input` holds
// sum(send_counts) elements, of which send_counts[j] (in rank order) go to rank j; `output`
// holds sum(recv_counts), of which recv_counts[j] come from rank j. Both spans have world_size
// entries; rank a's send_counts[b] must equal rank b's recv_counts[a]: a disagreement fails with
// kInvalidArgument on the ranks that see it (and kInvalidArgument or kAborted, through the abort
// frames, on the others) naming the two ranks, never a hang (executor.h).
absl::Status Alltoall(const CollectiveContext& context, const void* input,
                      absl::Span<const size_t> send_counts, void* output,
                      absl::Span<const size_t> recv_counts, DataType type,
                      const CollectiveOptions& options);

// Every rank's buffer ends with root's count elements.
absl::Status Broadcast(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       int root, const CollectiveOptions& options);

// Returns once every rank has entered.
absl::Status Barrier(const CollectiveContext& context, const CollectiveOptions& options);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COLLECTIVES_H_
