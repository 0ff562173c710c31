// Communicator: contact-aware allreduce planning (CollectiveOptions::contact_aware). The plan of a
// contact-aware allreduce depends on the orbit time it is planned at, so every rank must plan at
// the same time from the same predicted contact plan, or the ranks would run different rings and
// wait on each other until the deadline.
//
// The agreed planning time: rank 0 reads its scenario clock when it enters the collective, floors
// it to kPlanningQuantumS and publishes it under "crosslink/contact_aware/t/<sequence>" in the
// coordinator's key-value store; the other ranks read that key (a long poll bounded by the
// collective's deadline). The coordinator is out of band (it is not one of the emulated
// crosslinks), so a down crosslink never delays the agreement, and the cost is one key-value
// round trip per contact-aware collective (about a millisecond on one machine). Keys are never
// deleted: a few dozen bytes per collective, which a benchmark of thousands of iterations affords.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

namespace {

// Plans are made at whole orbit seconds: the predicted plan's geometry is sampled every second
// (scenario step_s) and its edges bisected to 10 ms, so a finer planning time would change the
// choice only at an edge, while a whole second lets collectives in one orbit second share it.
constexpr double kPlanningQuantumS = 1.0;

bool DebugEnabled() {
  const char* debug = std::getenv("CROSSLINK_DEBUG");
  return debug != nullptr && std::string(debug) == "1";
}

}  // namespace

std::shared_ptr<const linkmodel::ContactPlan> Communicator::predicted_plan() const {
  return impl_->predicted_plan;
}

absl::StatusOr<double> AgreeContactAwarePlanningTime(Communicator& comm, uint64_t sequence,
                                                     absl::Time deadline) {
  const std::string key = absl::StrCat("crosslink/contact_aware/t/", sequence);
  if (comm.rank() == 0) {
    const double t_s =
        std::floor(comm.clock()->OrbitNow() / kPlanningQuantumS) * kPlanningQuantumS;
    RETURN_IF_ERROR(comm.coordinator().KvSet(key, absl::StrCat(t_s), deadline));
    return t_s;
  }
  ASSIGN_OR_RETURN(std::string value, comm.coordinator().KvGet(key, deadline));
  double t_s = 0;
  if (!absl::SimpleAtod(value, &t_s)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", comm.rank(), ": bad contact-aware planning time \"", value,
                     "\" published by rank 0 under ", key));
  }
  return t_s;
}

absl::StatusOr<const collectives::Plan*> ContactAwareAllreducePlan(
    Communicator& comm, Communicator::Impl& impl, const ContactAwareCall& call, uint64_t sequence,
    absl::Time deadline) {
  ASSIGN_OR_RETURN(const double t_s, AgreeContactAwarePlanningTime(comm, sequence, deadline));
  const auto shape = std::make_tuple(static_cast<int>(call.algorithm), call.count,
                                     static_cast<int>(call.type), static_cast<int>(call.op),
                                     call.max_segment_bytes);
  Communicator::Impl::LastChoice& last = impl.last_choice;
  if (last.t_s == t_s && last.shape == shape) {
    const Communicator::Impl::OrderedPlanKey key{last.algorithm,         last.order,
                                                 call.count,             static_cast<int>(call.type),
                                                 static_cast<int>(call.op), call.max_segment_bytes};
    if (auto it = impl.ordered_plans.find(key); it != impl.ordered_plans.end()) {
      return &it->second;
    }
  }

  collectives::ContactAwareOptions options;
  options.algorithm = call.algorithm;
  options.type = call.type;
  options.op = call.op;
  options.max_segment_bytes = call.max_segment_bytes;
  const std::vector<int> sats(comm.rank_satellites().begin(),
                              comm.rank_satellites().begin() + comm.world_size());
  ASSIGN_OR_RETURN(collectives::ContactAwareChoice choice,
                   collectives::PlanContactAwareAllreduce(*impl.predicted_plan, sats, t_s,
                                                          call.count, options));
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
  last.t_s = t_s;
  last.shape = shape;
  last.algorithm = static_cast<int>(choice.algorithm);
  last.order = order;
  auto it = impl.ordered_plans.find(key);
  if (it == impl.ordered_plans.end()) {
    // A satellite ring has few good orders over an orbit; a bound keeps a long sweep in check.
    if (impl.ordered_plans.size() >= 64) impl.ordered_plans.clear();
    it = impl.ordered_plans.emplace(key, std::move(choice.plan)).first;
  }
  return &it->second;
}

}  // namespace crosslink::runtime
