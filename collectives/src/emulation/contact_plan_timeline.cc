#include "crosslink/collectives/emulation/contact_plan_timeline.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"

namespace crosslink::collectives {

using linkmodel::LinkState;

absl::StatusOr<ContactPlanTimeline> ContactPlanTimeline::Create(
    std::shared_ptr<const linkmodel::ContactPlan> plan, int sat_a, int sat_b) {
  if (plan == nullptr) return absl::InvalidArgumentError("ContactPlanTimeline: null plan");
  const int n = plan->num_satellites();
  if (sat_a < 0 || sat_a >= n || sat_b < 0 || sat_b >= n || sat_a == sat_b) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ContactPlanTimeline: satellites %d and %d are not two distinct satellites of a plan "
        "with %d",
        sat_a, sat_b, n));
  }
  return ContactPlanTimeline(std::move(plan), sat_a, sat_b);
}

ContactPlanTimeline::ContactPlanTimeline(std::shared_ptr<const linkmodel::ContactPlan> plan, int a,
                                         int b)
    : plan_(std::move(plan)), a_(a), b_(b), link_(plan_->FindLink(a, b)) {
  const auto& names = plan_->satellite_names();
  name_ = absl::StrFormat("%s - %s%s", names[a], names[b], link_ ? "" : " (routed)");
  if (link_.has_value() && plan_->links()[*link_].segments.empty()) link_.reset();
  if (!link_.has_value()) {
    for (const linkmodel::Link& l : plan_->links()) {
      for (const linkmodel::Segment& s : l.segments) boundaries_s_.push_back(s.end_s);
    }
    std::sort(boundaries_s_.begin(), boundaries_s_.end());
    boundaries_s_.erase(std::unique(boundaries_s_.begin(), boundaries_s_.end()),
                        boundaries_s_.end());
  }
}

LinkWindow ContactPlanTimeline::At(double t_s) const {
  return link_.has_value() ? Direct(t_s) : Routed(t_s);
}

LinkWindow ContactPlanTimeline::Direct(double t_s) const {
  const std::vector<linkmodel::Segment>& segs = plan_->links()[*link_].segments;
  auto it = std::upper_bound(segs.begin(), segs.end(), t_s,
                             [](double t, const linkmodel::Segment& s) { return t < s.start_s; });
  size_t i = it == segs.begin() ? 0 : static_cast<size_t>(it - segs.begin()) - 1;
  LinkWindow w;
  w.up = segs[i].state == LinkState::kUp;
  w.state = std::string(linkmodel::LinkStateName(segs[i].state));
  // The window ends where the up/down state changes; a hand-made plan may split a state over
  // several segments. The last segment's state holds past the plan's end (queries clamp).
  size_t j = i + 1;
  while (j < segs.size() && (segs[j].state == LinkState::kUp) == w.up) ++j;
  w.until_s = j < segs.size() ? segs[j].start_s : std::numeric_limits<double>::infinity();
  if (w.up) {
    w.latency_s = plan_->LatencyAt(a_, b_, t_s).value_or(0.0);
    w.rate_bps = plan_->RateAt(a_, b_, t_s).value_or(0.0);
  }
  return w;
}

LinkWindow ContactPlanTimeline::Routed(double t_s) const {
  LinkWindow w;
  auto next = std::upper_bound(boundaries_s_.begin(), boundaries_s_.end(), t_s);
  // Past the last boundary nothing changes any more.
  const double next_change_s = (next == boundaries_s_.end() || *next >= plan_->duration_s())
                                   ? std::numeric_limits<double>::infinity()
                                   : *next;
  std::optional<linkmodel::Path> path = plan_->ShortestPath(a_, b_, t_s);
  if (!path.has_value()) {
    w.up = false;
    w.state = "no path";
    w.until_s = next_change_s;
    return w;
  }
  w.up = true;
  w.state = "up";
  w.latency_s = path->latency_s;
  w.rate_bps = path->rate_bps;
  // The route may change (a shorter one appears) at any link's transition, and it breaks when
  // one of its hops goes down; the earlier of the two ends the window.
  w.until_s = next_change_s;
  if (std::isfinite(path->remaining_up_s) && t_s + path->remaining_up_s < plan_->duration_s()) {
    w.until_s = std::min(w.until_s, t_s + path->remaining_up_s);
  }
  return w;
}

}  // namespace crosslink::collectives
