// Allreduce: every rank ends with op over all ranks' buffers, bit-identical on every rank.
//
// Collective: every rank of the context must call it with the same count, type, op and options
// (algorithm, max_segment_bytes) and the same context sequence number; ranks that disagree all
// fail with kInvalidArgument naming the ranks (see executor.h for every status code).
// Blocking until done or options.deadline. The buffer (count elements of `type`) is reduced in
// place and borrowed for the call; its contents are unspecified after a failure.
//
// Algorithms: kRing (bandwidth-optimal, 2(n-1) message latencies) or kTree (binomial reduce +
// broadcast, 2⌈log2 n⌉ latencies); kAuto asks cost_model.h, given options.cost_hints. Both are
// deterministic: the same inputs give the same bits on every run, but ring and tree reduce in
// different orders, so floating-point results of the two differ in the last bits.
#ifndef CROSSLINK_COLLECTIVES_ALLREDUCE_H_
#define CROSSLINK_COLLECTIVES_ALLREDUCE_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/compression/error_feedback.h"
#include "crosslink/collectives/compression/wire_compression.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::collectives {

struct AllreduceOptions : CollectiveOptions {
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  LinkCostHints cost_hints;  // what kAuto believes about the links
  // float32 only (other types travel as is): how messages travel, and this rank's residual for
  // the buffer when error feedback is wanted (compression/wire_codec.h, error_feedback.h). Every
  // rank must pass the same compression. The result is then within the codec's bound of the
  // exact one (wire_codec.h) and still bit-identical on every rank.
  WireCompression compression = WireCompression::kNone;
  ErrorFeedback* error_feedback = nullptr;
};

absl::Status Allreduce(const CollectiveContext& context, void* buffer, size_t count, DataType type,
                       ReduceOp op, const AllreduceOptions& options);

// The plan Allreduce would run for `rank` (or every rank when rank is -1), for inspection
// (DescribePlan) and for simulators. kAuto is resolved here, so every rank resolves it alike.
absl::StatusOr<Plan> PlanAllreduce(int world_size, int rank, size_t count, DataType type,
                                   ReduceOp op, const AllreduceOptions& options);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_ALLREDUCE_H_
