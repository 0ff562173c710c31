// Communicator: contact-aware allreduce planning (CollectiveOptions::contact_aware). The plan of a
// contact-aware allreduce depends on the orbit time it is planned at, so every rank must plan at
// the same time from the same predicted contact plan, or the ranks would run different rings and
// wait on each other until the deadline.
//
// The agreed planning time: the decider (rank 0, or the lowest live rank of an elastic job) reads
// its scenario clock when it enters the collective and publishes it through the decider agreement
// (decider_agreement.h) — exactly: flooring it to a quantum would plan for an instant before the
// collective runs, and miss an outage that starts in between; the other ranks wait for it. The cost
// is one key-value round trip per contact-aware collective (about a millisecond on one machine).
//
// The horizon guard: the planner judges a link by whether it stays up for its cost-model estimate
// of the collective, which assumes the scenario's link rates. An emulated (or real) collective can
// take far longer (a 2-core host runs 8 ranks' copies and reductions at a few GB/s, not at
// 400 Gbit/s), and then a link that the planner saw "up for 0.1 s more" drops mid-collective. So
// the decider also publishes a guard: twice the orbit duration of the last contact-aware collective
// it ran (collectives' plan_choice.h ContactAwareInputs::guard_s says what the choice does with
// it). The decider publishes both numbers, so every rank still plans the same.
//
// What is chosen (ring or tree, and the rank order) is collectives' decision
// (ResolveContactAware); the order becomes the spec's participants, and the plan is the standard
// ring or tree over them, cached like any other.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/planning/plan_choice.h"
#include "crosslink/runtime/communicator.h"
#include "decider_agreement.h"

namespace crosslink::runtime {

namespace {

bool DebugEnabled() {
  const char* debug = std::getenv("CROSSLINK_DEBUG");
  return debug != nullptr && std::string(debug) == "1";
}

// The planning time and guard, as the decider decided them.
absl::StatusOr<std::pair<double, double>> AgreePlanningTime(Communicator& comm, double guard_s,
                                                            uint64_t sequence, int decider,
                                                            absl::Time deadline) {
  DeciderAgreement agreement(comm, "contact_aware", sequence, decider);
  if (comm.rank() == decider) {
    const double t_s = comm.clock()->OrbitNow();
    // %.17g round-trips a double exactly, so every rank plans at bit-identical times.
    RETURN_IF_ERROR(agreement.Publish(absl::StrFormat("%.17g %.17g", t_s, guard_s), deadline));
    return std::make_pair(t_s, guard_s);
  }
  ASSIGN_OR_RETURN(const std::string value, agreement.Await(deadline));
  std::pair<double, double> time;
  const std::vector<std::string> parts = absl::StrSplit(value, ' ');
  if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &time.first) ||
      !absl::SimpleAtod(parts[1], &time.second)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", comm.rank(), ": bad contact-aware planning time \"", value,
                     "\" published by rank ", decider, " under ", agreement.Key("decision")));
  }
  return time;
}

}  // namespace

std::shared_ptr<const linkmodel::ContactPlan> Communicator::predicted_plan() const {
  return impl_->predicted_plan;
}

absl::StatusOr<collectives::CollectiveSpec> ResolveContactAwareSpec(
    Communicator& comm, Communicator::Impl& impl, const collectives::CollectiveSpec& spec,
    uint64_t sequence, absl::Time deadline) {
  ASSIGN_OR_RETURN(const auto time, AgreePlanningTime(comm, impl.last_contact_aware_orbit_s * 2,
                                                      sequence, DeciderRank(impl), deadline));
  collectives::ContactAwareInputs inputs;
  inputs.predicted = impl.predicted_plan.get();
  inputs.satellites.assign(comm.rank_satellites().begin(),
                           comm.rank_satellites().begin() + comm.world_size());
  inputs.t_s = time.first;
  inputs.guard_s = time.second;
  ASSIGN_OR_RETURN(collectives::ContactAwareResolution resolution,
                   collectives::ResolveContactAware(spec, inputs));
  if (DebugEnabled()) {
    std::cerr << "[crosslink rank " << comm.rank() << "] contact-aware allreduce #" << sequence
              << " planned at orbit t=" << inputs.t_s << " s: " << resolution.explanation << "\n";
  }
  return resolution.spec;
}

}  // namespace crosslink::runtime
