// Plan choice: turns a collective's spec as the caller asked it (collective_spec.h: kAuto,
// contact_aware) into the resolved spec whose plan every rank runs. Decision apart from
// agreement apart from execution, as NCCL keeps graph/ apart from transport/: these functions
// decide from inputs that every rank must already share (the group's link hints, the predicted
// contact plan and an agreed orbit time); agreeing on those inputs is the caller's (the
// runtime's decider agreement, runtime/src/decider_agreement.h); running the plan is
// run_collective.h's.
//
// Thread-safety: pure functions. Blocking: CPU only (milliseconds at 8 ranks for the
// contact-aware search, under a second at 1,024).
#ifndef CROSSLINK_COLLECTIVES_PLANNING_PLAN_CHOICE_H_
#define CROSSLINK_COLLECTIVES_PLANNING_PLAN_CHOICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives {

// Loopback TCP between ranks of one machine: tens of microseconds, tens of Gbit/s.
inline constexpr LinkCostHints kLoopbackCostHints{30e-6, 40e9};

// The slowest of `windows` that are up: the longest latency and the lowest positive rate
// (kLoopbackCostHints' rate when none has one; latency 0 when none is up).
LinkCostHints SlowestUpLink(absl::Span<const LinkWindow> windows);

// kAuto's hints for a group whose rank r sits on satellite satellites[r]: SlowestUpLink over
// the ring links r -> r+1 in `truth` at t_s (pairs without a crosslink are skipped). The same on
// every rank that passes the same inputs, which kAuto needs.
LinkCostHints RingLinkHints(const linkmodel::ContactPlan& truth, absl::Span<const int> satellites,
                            double t_s);

// An allreduce spec with kAuto replaced by the cost model's choice for its plan world size and
// bytes under `hints` (the other kinds and explicit algorithms come back unchanged).
CollectiveSpec ResolveAlgorithm(CollectiveSpec spec, const LinkCostHints& hints);

// What the contact-aware choice reads; every rank must pass the same values.
struct ContactAwareInputs {
  const linkmodel::ContactPlan* predicted = nullptr;  // borrowed; the PREDICTED plan
  std::vector<int> satellites;  // satellites[r]: group rank r's satellite in `predicted`
  double t_s = 0;               // the agreed planning time (orbit seconds)
  // The horizon guard: when a direct link of the chosen plan is up at t_s but predicted to drop
  // before t_s + guard_s, the choice is made again as if the collective started at t_s + guard_s,
  // where that link is seen down (a link down now but up then costs a wait of at most the guard).
  // The runtime passes twice the orbit duration of the last contact-aware collective, because the
  // cost model's estimate ignores the host's copies and reductions. 0: no guard.
  double guard_s = 0;
};

struct ContactAwareResolution {
  // algorithm set (never kAuto); participants: the chosen ring order or tree labelling over the
  // spec's participants (or every rank); contact_aware still set.
  CollectiveSpec spec;
  std::string explanation;  // the planner's, for CROSSLINK_DEBUG=1 logs
};

// The contact-aware choice (contact_aware_planner.h) for an allreduce spec over its participants.
// kInvalidArgument for a spec that is not an allreduce or inputs without a plan or with too few
// satellites, and the planner's codes (kInvalidArgument, kUnavailable).
absl::StatusOr<ContactAwareResolution> ResolveContactAware(const CollectiveSpec& spec,
                                                           const ContactAwareInputs& inputs);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_PLANNING_PLAN_CHOICE_H_
