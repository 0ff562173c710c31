// Allreduce: every rank ends with op over all ranks' buffers, bit-identical on every rank.
//
// Collective: every rank of the context must call it with the same count, type, op and options
// (algorithm, max_segment_bytes, compression) and the same context sequence number; ranks that
// disagree all fail with kInvalidArgument naming the ranks (executor.h has every status code).
// Blocking until done or options.Deadline(now). The buffer (count elements of `type`) is reduced
// in place and borrowed for the call; its contents are unspecified after a failure.
//
// Algorithms: kRing (bandwidth-optimal, 2(n-1) message latencies) or kTree (binomial reduce +
// broadcast, 2⌈log2 n⌉ latencies); kAuto asks cost_model.h, given context.cost_hints. Both are
// deterministic: the same inputs give the same bits on every run, but ring and tree reduce in
// different orders, so floating-point results of the two differ in the last bits.
// Compression (float32 only; wire_codec.h): the result is within the codec's bound of the exact
// one and still bit-identical on every rank; options.error_feedback carries this rank's residual.
// options.contact_aware is ignored here (it needs an agreed orbit time: the runtime's
// Communicator); options.min_participants > 0 gives kInvalidArgument for the same reason.
#ifndef CROSSLINK_COLLECTIVES_ALLREDUCE_H_
#define CROSSLINK_COLLECTIVES_ALLREDUCE_H_

#include <cstddef>

#include "absl/status/status.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/collective_options.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives {

absl::Status Allreduce(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       ReduceOp op, const CollectiveOptions& options);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_ALLREDUCE_H_
