#include "simulator_channel.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "crosslink/linkmodel/link_geometry.h"

namespace crosslink::collectives::internal {

std::vector<double> StateChangeTimes(const linkmodel::ContactPlan& plan) {
  std::vector<double> times;
  for (const linkmodel::Link& link : plan.links()) {
    for (const linkmodel::Segment& seg : link.segments) {
      if (seg.start_s > 0) times.push_back(seg.start_s);
    }
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

SimChannel::SimChannel(const linkmodel::ContactPlan* plan, const std::vector<double>* changes,
                       int from_rank, int to_rank, int from_sat, int to_sat)
    : plan_(plan), changes_(changes) {
  std::optional<int> link = plan->FindLink(from_sat, to_sat);
  if (link.has_value() && !plan->links()[*link].segments.empty()) link_ = *link;
  stats_.from_rank = from_rank;
  stats_.to_rank = to_rank;
  stats_.from_satellite = from_sat;
  stats_.to_satellite = to_sat;
  stats_.direct = link_ >= 0;
}

absl::Status SimChannel::Held(double from_s, double until_s, double deadline_s, const char* state) {
  if (until_s > deadline_s) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "rank %d -> rank %d: link %s - %s (%s) is %s from t=%.3f s and not back before the "
        "deadline t=%.3f s",
        stats_.from_rank, stats_.to_rank, plan_->satellite_names()[stats_.from_satellite],
        plan_->satellite_names()[stats_.to_satellite], link_ >= 0 ? "direct" : "relayed", state,
        from_s, deadline_s));
  }
  // Back-to-back down states (occluded, then re-acquiring) are one outage, counted once.
  if (from_s > last_hold_until_s_) ++stats_.outages;
  last_hold_until_s_ = until_s;
  stats_.held_s += until_s - from_s;
  return absl::OkStatus();
}

absl::StatusOr<Delivery> SimChannel::Send(double ready_s, size_t bytes, double deadline_s) {
  const double t = std::max(ready_s, free_at_s_);
  const double bits = 8.0 * static_cast<double>(bytes);
  absl::StatusOr<Delivery> d =
      link_ >= 0 ? SendDirect(t, bits, deadline_s) : SendRouted(t, bits, deadline_s);
  if (!d.ok()) return d;
  free_at_s_ = d->done_s;
  ++stats_.messages;
  stats_.bytes += bytes;
  return d;
}

absl::StatusOr<Delivery> SimChannel::SendDirect(double t, double bits, double deadline_s) {
  const linkmodel::Link& link = plan_->links()[link_];
  const std::vector<linkmodel::Segment>& segs = link.segments;
  const double inf = std::numeric_limits<double>::infinity();
  while (true) {
    while (cursor_ + 1 < segs.size() && segs[cursor_].end_s <= t) ++cursor_;
    const linkmodel::Segment& seg = segs[cursor_];
    // The plan clamps times past its window to its ends: the last segment lasts forever.
    const double seg_end = cursor_ + 1 == segs.size() ? inf : seg.end_s;
    if (seg.state != linkmodel::LinkState::kUp) {
      const std::string_view name = linkmodel::LinkStateName(seg.state);
      if (absl::Status s = Held(t, seg_end, deadline_s, std::string(name).c_str()); !s.ok()) {
        return s;
      }
      t = seg_end;
      continue;
    }
    const double rate = linkmodel::RateAtRange(plan_->physics(), plan_->RangeAt(link_, t));
    const double need_s = rate > 0 ? bits / rate : 0.0;
    if (t + need_s <= seg_end) {
      stats_.busy_s += need_s;
      const double done = t + need_s;
      return Delivery{done, done + linkmodel::LightTimeS(plan_->RangeAt(link_, done))};
    }
    stats_.busy_s += seg_end - t;
    bits -= (seg_end - t) * rate;
    t = seg_end;
  }
}

absl::StatusOr<Delivery> SimChannel::SendRouted(double t, double bits, double deadline_s) {
  while (true) {
    if (!route_valid_ || t < route_from_s_ || t >= route_until_s_) {
      std::optional<linkmodel::Path> path =
          plan_->ShortestPath(stats_.from_satellite, stats_.to_satellite, t);
      if (!path.has_value() || path->remaining_up_s <= 0) {
        route_valid_ = false;
        auto next = std::upper_bound(changes_->begin(), changes_->end(), t);
        const double until =
            next == changes_->end() ? std::numeric_limits<double>::infinity() : *next;
        if (absl::Status s = Held(t, until, deadline_s, "without a relay path"); !s.ok()) {
          return s;
        }
        t = until;
        continue;
      }
      route_valid_ = true;
      route_from_s_ = t;
      // A path up to the window's end stays up forever, as the plan's last segments do.
      route_until_s_ = t + path->remaining_up_s >= plan_->duration_s()
                           ? std::numeric_limits<double>::infinity()
                           : t + path->remaining_up_s;
      route_latency_s_ = path->latency_s;
      route_rate_bps_ = path->rate_bps;
    }
    const double need_s = route_rate_bps_ > 0 ? bits / route_rate_bps_ : 0.0;
    if (t + need_s <= route_until_s_) {
      stats_.busy_s += need_s;
      return Delivery{t + need_s, t + need_s + route_latency_s_};
    }
    stats_.busy_s += route_until_s_ - t;
    bits -= (route_until_s_ - t) * route_rate_bps_;
    t = route_until_s_;
    route_valid_ = false;
  }
}

}  // namespace crosslink::collectives::internal
