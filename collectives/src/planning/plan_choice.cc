#include "crosslink/collectives/planning/plan_choice.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"

namespace crosslink::collectives {
namespace {

// True when a direct link the plan's messages cross is up at t_s and predicted to go down
// before t_s + guard_s. The plan's rank r runs on satellites[r].
bool DropsWithin(const linkmodel::ContactPlan& predicted, const std::vector<int>& satellites,
                 const Plan& plan, double t_s, double guard_s) {
  for (size_t r = 0; r < plan.ranks.size(); ++r) {
    for (const Step& step : plan.ranks[r]) {
      if (step.peer <= static_cast<int>(r)) continue;  // each pair once; local steps have -1
      const int a = satellites[r];
      const int b = satellites[step.peer];
      if (!predicted.FindLink(a, b).has_value() || !predicted.Up(a, b, t_s)) continue;
      if (predicted.RemainingUp(a, b, t_s) < guard_s) return true;
    }
  }
  return false;
}

}  // namespace

LinkCostHints SlowestUpLink(absl::Span<const LinkWindow> windows) {
  LinkCostHints hints{0.0, std::numeric_limits<double>::infinity()};
  for (const LinkWindow& window : windows) {
    if (!window.up) continue;
    hints.latency_s = std::max(hints.latency_s, window.latency_s);
    if (window.rate_bps > 0) hints.rate_bps = std::min(hints.rate_bps, window.rate_bps);
  }
  if (!std::isfinite(hints.rate_bps)) hints.rate_bps = kLoopbackCostHints.rate_bps;
  return hints;
}

LinkCostHints RingLinkHints(const linkmodel::ContactPlan& truth, absl::Span<const int> satellites,
                            double t_s) {
  // ContactPlanTimeline shares the plan it reads; this borrows `truth` for the call only.
  const std::shared_ptr<const linkmodel::ContactPlan> plan(&truth,
                                                           [](const linkmodel::ContactPlan*) {});
  const int n = static_cast<int>(satellites.size());
  std::vector<LinkWindow> windows;
  for (int a = 0; a < n && n > 1; ++a) {
    auto timeline = ContactPlanTimeline::Create(plan, satellites[a], satellites[(a + 1) % n]);
    if (!timeline.ok()) continue;  // two ranks on one satellite: no crosslink between them
    windows.push_back(timeline->At(t_s));
  }
  return SlowestUpLink(windows);
}

CollectiveSpec ResolveAlgorithm(CollectiveSpec spec, const LinkCostHints& hints) {
  if (spec.kind == CollectiveKind::kAllreduce && spec.algorithm == AllreduceAlgorithm::kAuto) {
    spec.algorithm = ChooseAllreduceAlgorithm(spec.plan_world_size(),
                                              spec.count * DataTypeSize(spec.type), hints);
  }
  return spec;
}

absl::StatusOr<ContactAwareResolution> ResolveContactAware(const CollectiveSpec& spec,
                                                           const ContactAwareInputs& inputs) {
  if (spec.kind != CollectiveKind::kAllreduce) {
    return absl::InvalidArgumentError(absl::StrCat("contact-aware planning of a ",
                                                   std::string(CollectiveKindName(spec.kind)),
                                                   ": only allreduce has a contact-aware plan"));
  }
  if (inputs.predicted == nullptr || static_cast<int>(inputs.satellites.size()) < spec.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("contact-aware planning needs the predicted plan and a satellite for each of ",
                     spec.world_size, " ranks (", inputs.satellites.size(), " given)"));
  }
  RETURN_IF_ERROR(ValidateSpec(spec));
  const int k = spec.plan_world_size();
  std::vector<int> sats(k);
  for (int i = 0; i < k; ++i) sats[i] = inputs.satellites[spec.GroupRank(i)];
  ContactAwareOptions options;
  options.algorithm = spec.algorithm;
  options.type = spec.type;
  options.op = spec.op;
  options.max_segment_bytes = spec.max_segment_bytes;
  const linkmodel::ContactPlan& predicted = *inputs.predicted;
  ASSIGN_OR_RETURN(ContactAwareChoice choice,
                   PlanContactAwareAllreduce(predicted, sats, inputs.t_s, spec.count, options));
  if (inputs.guard_s > 0 && DropsWithin(predicted, sats, choice.plan, inputs.t_s, inputs.guard_s)) {
    ASSIGN_OR_RETURN(choice, PlanContactAwareAllreduce(predicted, sats, inputs.t_s + inputs.guard_s,
                                                       spec.count, options));
    choice.explanation =
        absl::StrCat("(a link of the plan at t=", inputs.t_s, " s drops within the guard of ",
                     inputs.guard_s, " s: planned at t+guard)\n", choice.explanation);
  }
  ContactAwareResolution out;
  out.spec = spec;
  out.spec.algorithm = choice.algorithm;
  const std::vector<int>& order =
      choice.algorithm == AllreduceAlgorithm::kTree ? choice.tree_order : choice.ring_order;
  out.spec.participants.resize(k);
  for (int v = 0; v < k; ++v) out.spec.participants[v] = spec.GroupRank(order[v]);
  out.explanation = std::move(choice.explanation);
  return out;
}

}  // namespace crosslink::collectives
