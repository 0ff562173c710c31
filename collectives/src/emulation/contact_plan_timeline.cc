#include "crosslink/collectives/emulation/contact_plan_timeline.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <utility>

#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"

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

absl::StatusOr<ContactPlanTimeline> ContactPlanTimeline::CreateDetour(
    std::shared_ptr<const linkmodel::ContactPlan> plan, int sat_a, int sat_b) {
  ASSIGN_OR_RETURN(ContactPlanTimeline detour, Create(plan, sat_a, sat_b));
  if (!detour.direct()) return detour;
  // Routed over the same plan, with the direct link left out of the search (no copy of the
  // plan: real ones carry megabytes of range samples).
  detour.excluded_link_ = detour.link_;
  detour.link_.reset();
  detour.adjacency_.assign(plan->num_satellites(), {});
  for (size_t i = 0; i < plan->links().size(); ++i) {
    const linkmodel::Link& l = plan->links()[i];
    if (static_cast<int>(i) == *detour.excluded_link_ || l.segments.empty()) continue;
    detour.adjacency_[l.a].push_back({l.b, static_cast<int>(i)});
    detour.adjacency_[l.b].push_back({l.a, static_cast<int>(i)});
  }
  for (const linkmodel::Link& l : plan->links()) {
    for (const linkmodel::Segment& seg : l.segments) detour.boundaries_s_.push_back(seg.end_s);
  }
  std::sort(detour.boundaries_s_.begin(), detour.boundaries_s_.end());
  detour.boundaries_s_.erase(std::unique(detour.boundaries_s_.begin(), detour.boundaries_s_.end()),
                             detour.boundaries_s_.end());
  const auto& names = plan->satellite_names();
  detour.name_ = absl::StrFormat("%s - %s (detour)", names[sat_a], names[sat_b]);
  return detour;
}

std::optional<linkmodel::Path> ContactPlanTimeline::DetourPath(double t_s) const {
  // Dijkstra on latency, as ContactPlan::ShortestPath, over the links other than the excluded.
  const int n = plan_->num_satellites();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> cost(n, inf);
  std::vector<std::pair<int, int>> via(n, {-1, -1});
  using Item = std::pair<double, int>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
  cost[a_] = 0;
  queue.push({0.0, a_});
  while (!queue.empty()) {
    const auto [c, u] = queue.top();
    queue.pop();
    if (c != cost[u]) continue;
    if (u == b_) break;
    for (const auto& [v, link] : adjacency_[u]) {
      const linkmodel::Link& l = plan_->links()[link];
      if (!plan_->Up(l.a, l.b, t_s)) continue;
      const double next = c + plan_->LatencyAt(l.a, l.b, t_s).value_or(inf);
      if (next < cost[v]) {
        cost[v] = next;
        via[v] = {u, link};
        queue.push({next, v});
      }
    }
  }
  if (cost[b_] == inf) return std::nullopt;
  linkmodel::Path path;
  path.latency_s = cost[b_];
  path.rate_bps = inf;
  path.remaining_up_s = inf;
  for (int v = b_; v != a_; v = via[v].first) {
    path.satellites.push_back(v);
    const linkmodel::Link& l = plan_->links()[via[v].second];
    path.rate_bps = std::min(path.rate_bps, plan_->RateAt(l.a, l.b, t_s).value_or(0.0));
    path.remaining_up_s = std::min(path.remaining_up_s, plan_->RemainingUp(l.a, l.b, t_s));
  }
  path.satellites.push_back(a_);
  std::reverse(path.satellites.begin(), path.satellites.end());
  return path;
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
  std::optional<linkmodel::Path> path =
      excluded_link_.has_value() ? DetourPath(t_s) : plan_->ShortestPath(a_, b_, t_s);
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
