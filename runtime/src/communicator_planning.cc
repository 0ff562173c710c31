// Communicator: contact-aware allreduce planning (CollectiveOptions::contact_aware). The plan of a
// contact-aware allreduce depends on the orbit time it is planned at, so every rank must plan at
// the same time from the same predicted contact plan, or the ranks would run different rings and
// wait on each other until the deadline.
//
// The agreed planning time: rank 0 reads its scenario clock when it enters the collective and
// publishes it (exactly: flooring it to a quantum would plan for an instant before the collective
// runs, and miss an outage that starts in between) under "crosslink/contact_aware/t/<sequence>" in
// the coordinator's key-value store; the other ranks read that key (a long poll bounded by the
// collective's deadline). The coordinator is out of band (it is not one of the emulated
// crosslinks), so a down crosslink never delays the agreement, and the cost is one key-value
// round trip per contact-aware collective (about a millisecond on one machine). Keys are never
// deleted: a few dozen bytes per collective, which a benchmark of thousands of iterations affords.
//
// The horizon guard: the planner judges a link by whether it stays up for its cost-model estimate
// of the collective, which assumes the scenario's link rates. An emulated (or real) collective can
// take far longer (a 2-core host runs 8 ranks' copies and reductions at a few GB/s, not at
// 400 Gbit/s), and then a link that the planner saw "up for 0.1 s more" drops mid-collective. So
// rank 0 also publishes a guard: twice the orbit duration of the last contact-aware collective it
// ran. When a link of the chosen plan is predicted to drop within the guard, the plan is made
// again as if the collective started after the guard, where that link is seen down; a link that
// is down now but up then costs a wait of at most the guard. Rank 0 publishes both numbers, so
// every rank still plans the same.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

namespace {

// True when a direct link the plan's messages cross is up at t_s and predicted to go down
// before t_s + guard_s.
bool DropsWithin(const linkmodel::ContactPlan& predicted, const std::vector<int>& sats,
                 const collectives::Plan& plan, double t_s, double guard_s) {
  for (size_t r = 0; r < plan.ranks.size(); ++r) {
    for (const collectives::Step& step : plan.ranks[r]) {
      if (step.peer <= static_cast<int>(r)) continue;  // each pair once; local steps have -1
      const int a = sats[r];
      const int b = sats[step.peer];
      if (!predicted.FindLink(a, b).has_value() || !predicted.Up(a, b, t_s)) continue;
      if (predicted.RemainingUp(a, b, t_s) < guard_s) return true;
    }
  }
  return false;
}

bool DebugEnabled() {
  const char* debug = std::getenv("CROSSLINK_DEBUG");
  return debug != nullptr && std::string(debug) == "1";
}

}  // namespace

std::shared_ptr<const linkmodel::ContactPlan> Communicator::predicted_plan() const {
  return impl_->predicted_plan;
}

absl::StatusOr<PlanningTime> AgreeContactAwarePlanningTime(Communicator& comm, double guard_s,
                                                           uint64_t sequence, absl::Time deadline) {
  const std::string key = absl::StrCat("crosslink/contact_aware/t/", sequence);
  if (comm.rank() == 0) {
    const PlanningTime time{comm.clock()->OrbitNow(), guard_s};
    // %.17g round-trips a double exactly, so every rank plans at bit-identical times.
    RETURN_IF_ERROR(comm.coordinator().KvSet(
        key, absl::StrFormat("%.17g %.17g", time.t_s, time.guard_s), deadline));
    return time;
  }
  ASSIGN_OR_RETURN(std::string value, comm.coordinator().KvGet(key, deadline));
  PlanningTime time;
  const std::vector<std::string> parts = absl::StrSplit(value, ' ');
  if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &time.t_s) ||
      !absl::SimpleAtod(parts[1], &time.guard_s)) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", comm.rank(),
                                                   ": bad contact-aware planning time \"", value,
                                                   "\" published by rank 0 under ", key));
  }
  return time;
}

absl::StatusOr<const collectives::Plan*> ContactAwareAllreducePlan(Communicator& comm,
                                                                   Communicator::Impl& impl,
                                                                   const ContactAwareCall& call,
                                                                   uint64_t sequence,
                                                                   absl::Time deadline) {
  ASSIGN_OR_RETURN(
      const PlanningTime time,
      AgreeContactAwarePlanningTime(comm, impl.last_contact_aware_orbit_s * 2, sequence, deadline));
  const double t_s = time.t_s;
  collectives::ContactAwareOptions options;
  options.algorithm = call.algorithm;
  options.type = call.type;
  options.op = call.op;
  options.max_segment_bytes = call.max_segment_bytes;
  const std::vector<int> sats(comm.rank_satellites().begin(),
                              comm.rank_satellites().begin() + comm.world_size());
  ASSIGN_OR_RETURN(
      collectives::ContactAwareChoice choice,
      collectives::PlanContactAwareAllreduce(*impl.predicted_plan, sats, t_s, call.count, options));
  if (time.guard_s > 0 && DropsWithin(*impl.predicted_plan, sats, choice.plan, t_s, time.guard_s)) {
    ASSIGN_OR_RETURN(
        choice, collectives::PlanContactAwareAllreduce(*impl.predicted_plan, sats,
                                                       t_s + time.guard_s, call.count, options));
    choice.explanation =
        absl::StrCat("(a link of the plan at t=", t_s, " s drops within the guard of ",
                     time.guard_s, " s: planned at t+guard)\n", choice.explanation);
  }
  if (DebugEnabled()) {
    std::cerr << "[crosslink rank " << comm.rank() << "] contact-aware allreduce #" << sequence
              << " planned at orbit t=" << t_s << " s: " << choice.explanation << "\n";
  }
  std::vector<int> order = choice.algorithm == collectives::AllreduceAlgorithm::kTree
                               ? choice.tree_order
                               : choice.ring_order;
  const Communicator::Impl::OrderedPlanKey key{static_cast<int>(choice.algorithm),
                                               order,
                                               call.count,
                                               static_cast<int>(call.type),
                                               static_cast<int>(call.op),
                                               call.max_segment_bytes};
  auto it = impl.ordered_plans.find(key);
  if (it == impl.ordered_plans.end()) {
    // A satellite ring has few good orders over an orbit; a bound keeps a long sweep in check.
    if (impl.ordered_plans.size() >= 64) impl.ordered_plans.clear();
    it = impl.ordered_plans.emplace(key, std::move(choice.plan)).first;
  }
  return &it->second;
}

}  // namespace crosslink::runtime
