// RunPlan: executes this rank's part of a planned collective over a CollectiveContext. The one
// place where the collective entries (allreduce.cc, collectives.cc) turn a context and a plan
// into executor arguments. Internal to the collectives library.
#ifndef CROSSLINK_COLLECTIVES_SRC_RUN_PLAN_H_
#define CROSSLINK_COLLECTIVES_SRC_RUN_PLAN_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/compression/error_feedback.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::collectives::internal {

// Blocks until done or `deadline`; a failed plan's status is returned as is. `input` is the
// separate input of out-of-place collectives (nullptr when in place); `error_feedback` is passed
// to the executor (plans with compression).
absl::Status RunPlan(const CollectiveContext& context, const absl::StatusOr<Plan>& plan, void* data,
                     const void* input, absl::Time deadline,
                     ErrorFeedback* error_feedback = nullptr);

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_RUN_PLAN_H_
