// From a loaded Scenario to the objects the rest of Crosslink uses: the constellation (Walker
// shell, formation clusters or real TLEs), the predicted and the true contact plans, and the
// satellites hosting the ranks. The one place that knows which builder serves which scenario type.
// Every function blocks until done and is thread-safe (it reads the scenario and the files it
// names); plan building runs on several threads (contact_plan_builder.h).
#ifndef CROSSLINK_LINKMODEL_SCENARIO_BUILDER_H_
#define CROSSLINK_LINKMODEL_SCENARIO_BUILDER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/constellation.h"
#include "crosslink/linkmodel/contact_plan.h"
#include "crosslink/linkmodel/scenario.h"

namespace crosslink::linkmodel {

// Two orbit normals within this angle belong to one plane when TLE satellites are grouped
// (AssignOrbitPlanes). Neighbouring planes of real shells are >= 4 degrees apart in their normals
// (72 planes at 53 degrees: 5 degrees of RAAN -> 4 degrees), while satellites of one plane
// scatter by well under a degree once propagated to a common epoch.
inline constexpr double kTlePlaneToleranceDeg = 1.5;

// The scenario's satellites with their propagators, epoch = scenario.time.start.
//   walker-delta: MakeWalkerDelta; formation: MakeFormation;
//   tle: the file's element sets, selected by `satellites` (names or NORAD ids, in that order;
//        kNotFound naming an entry that is not in the file), then by inclination band, then the
//        first first_n; each propagated by SGP4 from its own TLE epoch to the scenario start;
//        then grouped into orbit planes. Duplicate element sets of one NORAD id keep the first.
// kNotFound for a TLE file that cannot be read; kInvalidArgument for a malformed TLE, the
// builders' bad parameters or an empty selection; kOutOfRange (the propagator's) when a TLE
// satellite has no state at the scenario start (plane grouping needs one).
absl::StatusOr<Constellation> BuildConstellation(const Scenario& scenario);

// One plan of the scenario: the predicted one (geometry only) when include_faults is false, the
// true one (geometry and the seeded faults) when it is true. num_threads 0: all hardware threads.
// Status codes as BuildContactPlan (kDeadlineExceeded once `deadline` passes).
absl::StatusOr<ContactPlan> BuildScenarioPlan(const Scenario& scenario,
                                              const Constellation& constellation,
                                              bool include_faults, int num_threads = 0,
                                              absl::Time deadline = absl::InfiniteFuture());

struct ScenarioPlans {
  Constellation constellation;
  ContactPlan predicted;  // what the planner sees
  ContactPlan truth;      // what the link emulator applies
};

// The constellation and both plans, both built before `deadline`.
absl::StatusOr<ScenarioPlans> BuildScenarioPlans(const Scenario& scenario, int num_threads = 0,
                                                 absl::Time deadline = absl::InfiniteFuture());

// Satellite index of every rank ([cluster] satellites, rank i -> element i), matched by name, or
// by NORAD id for an all-digit entry. kNotFound naming the first satellite the constellation does
// not have; kInvalidArgument when two ranks resolve to one satellite.
absl::StatusOr<std::vector<int>> ResolveRankSatellites(const Scenario& scenario,
                                                       const Constellation& constellation);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_SCENARIO_BUILDER_H_
