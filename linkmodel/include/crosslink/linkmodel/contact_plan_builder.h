// BuildContactPlan: from a constellation and the link physics to the ContactPlan of a scenario.
//
// Method: candidate links come from the topology (topology.h) at t = 0 and stay fixed. Every
// satellite is propagated once per step_s over [0, duration_s] (the last sample exactly at
// duration_s) and the Sun once per step; each candidate link is evaluated at every sample
// (link_geometry.h). Where a link's state differs between two samples, the change is located by
// bisection to kEdgeToleranceS or better, propagating only the two satellites involved. Then, for
// the true plan only, the seeded faults (faults.h) replace up-time; last, after any outage
// (geometry or fault, not at t = 0) the first acquisition_s of the following up-time become
// kAcquiring. Range is kept every RangeSampleStepS(step_s) for latency and rate.
//
// The work is split over time slices on num_threads std::threads (0: the hardware's count); the
// result is the same bit for bit for any thread count. Blocks the caller until done; thread-safe
// (reads the constellation, which must not change meanwhile).
//
// Status codes: kInvalidArgument for bad time settings (including more than 1e9 samples, or more
// than kMaxRangeValues range samples over all links), topology or fault parameters, or a
// satellite without a propagator;
// kOutOfRange naming the satellite and the orbit time when a propagator cannot give a state
// (a decayed SGP4 satellite); kDeadlineExceeded naming the orbit time reached when `deadline`
// passes before the plan is built (a job's setup deadline: a scenario too big for it fails
// setup in time instead of holding the rank past it).
#ifndef CROSSLINK_LINKMODEL_CONTACT_PLAN_BUILDER_H_
#define CROSSLINK_LINKMODEL_CONTACT_PLAN_BUILDER_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/constellation.h"
#include "crosslink/linkmodel/contact_plan.h"
#include "crosslink/linkmodel/scenario.h"

namespace crosslink::linkmodel {

// Edges between link states are located at least this well (seconds).
inline constexpr double kEdgeToleranceS = 0.01;

// max(step_s, 10 s) rounded to a whole number of steps: ranges change slowly (km per second
// against thousands of km), so ten-second samples keep latency well under a microsecond off
// while the plan stays small.
double RangeSampleStepS(double step_s);

// The most range samples a plan may hold over all its links together (4 bytes each): the
// window's range samples times the number of candidate links.
inline constexpr double kMaxRangeValues = 1e9;

absl::StatusOr<ContactPlan> BuildContactPlan(const Constellation& constellation,
                                             const TimeConfig& time, const LinkPhysics& physics,
                                             const FaultConfig& faults, bool include_faults,
                                             int num_threads = 0,
                                             absl::Time deadline = absl::InfiniteFuture());

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_CONTACT_PLAN_BUILDER_H_
