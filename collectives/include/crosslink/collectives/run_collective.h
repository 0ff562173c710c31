// RunCollective: the one execution entry of the collectives. Every collective, whichever entry
// point it came through (collectives.h, the runtime's Communicator), ends here with a resolved
// spec (collective_spec.h, planning/plan_choice.h): its plan is taken from the context's plan
// cache (or made), the plan ranks are mapped to the group's connections through the spec's
// participants, and the executor (executor.h) runs this rank's part.
//
// Collective: every participant calls it with an equal resolved spec and the context's sequence
// number; a group rank that is not a participant must not call it (kInvalidArgument).
// Blocking until done or run.deadline (executor.h has every status code; its messages name group
// ranks, not plan ranks). Buffers are borrowed for the call; on failure their contents are
// unspecified and the connections are out of step (collective_context.h).
// Thread-safety: one collective at a time per context.
#ifndef CROSSLINK_COLLECTIVES_RUN_COLLECTIVE_H_
#define CROSSLINK_COLLECTIVES_RUN_COLLECTIVE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/compression/error_feedback.h"

namespace crosslink::collectives {

struct CollectiveBuffers {
  void* data = nullptr;  // spec.count elements of spec.type (nullptr for a barrier)
  // Allgather's input (nullptr or this rank's block: in place); alltoall's input (required,
  // disjoint from data).
  const void* input = nullptr;
  ErrorFeedback* error_feedback = nullptr;  // compressed allreduce only; borrowed
};

// Runs this rank's part of `spec`. An allreduce whose algorithm is still kAuto is resolved with
// context.cost_hints (ResolveAlgorithm). `algorithm`, when not null, receives the plan's name
// ("ring_allreduce", "contact_aware_tree", ...) once a plan exists, even if the run then fails.
absl::Status RunCollective(const CollectiveContext& context, const CollectiveSpec& spec,
                           const CollectiveBuffers& buffers, absl::Time deadline,
                           std::string* algorithm = nullptr);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_RUN_COLLECTIVE_H_
