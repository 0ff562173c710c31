#include "crosslink/linkmodel/contact_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crosslink/linkmodel/link_geometry.h"

namespace crosslink::linkmodel {
namespace {

uint64_t PairKey(int a, int b) {
  if (a > b) std::swap(a, b);
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// Index of the segment holding t (clamped to the window); segments is never empty.
size_t SegmentIndex(const std::vector<Segment>& segments, double t_s) {
  // First segment starting after t, minus one.
  auto it = std::upper_bound(segments.begin(), segments.end(), t_s,
                             [](double t, const Segment& s) { return t < s.start_s; });
  if (it == segments.begin()) return 0;
  return static_cast<size_t>(it - segments.begin()) - 1;
}

}  // namespace

std::string_view LinkStateName(LinkState state) {
  switch (state) {
    case LinkState::kUp:
      return "up";
    case LinkState::kOccluded:
      return "occluded";
    case LinkState::kRange:
      return "range";
    case LinkState::kPolar:
      return "polar";
    case LinkState::kSun:
      return "sun";
    case LinkState::kAcquiring:
      return "acquiring";
    case LinkState::kFault:
      return "fault";
  }
  return "unknown";
}

ContactPlan::ContactPlan(std::vector<std::string> satellite_names, absl::Time epoch,
                         double duration_s, double range_sample_step_s, LinkPhysics physics,
                         bool includes_faults, std::vector<Link> links)
    : satellite_names_(std::move(satellite_names)),
      epoch_(epoch),
      duration_s_(duration_s),
      range_sample_step_s_(range_sample_step_s),
      physics_(physics),
      includes_faults_(includes_faults),
      links_(std::move(links)) {
  adjacency_.resize(satellite_names_.size());
  link_index_.reserve(links_.size());
  for (size_t i = 0; i < links_.size(); ++i) {
    const Link& l = links_[i];
    link_index_[PairKey(l.a, l.b)] = static_cast<int>(i);
    if (l.a >= 0 && l.a < num_satellites() && l.b >= 0 && l.b < num_satellites()) {
      adjacency_[l.a].push_back({l.b, static_cast<int>(i)});
      adjacency_[l.b].push_back({l.a, static_cast<int>(i)});
    }
  }
}

std::optional<int> ContactPlan::FindLink(int a, int b) const {
  auto it = link_index_.find(PairKey(a, b));
  if (it == link_index_.end()) return std::nullopt;
  return it->second;
}

LinkState ContactPlan::StateAt(int a, int b, double t_s) const {
  std::optional<int> link = FindLink(a, b);
  // No terminal is ever pointed along a pair that is no candidate: it is out of reach.
  if (!link.has_value() || links_[*link].segments.empty()) return LinkState::kRange;
  const std::vector<Segment>& segs = links_[*link].segments;
  return segs[SegmentIndex(segs, t_s)].state;
}

std::optional<double> ContactPlan::NextUp(int a, int b, double t_s) const {
  std::optional<int> link = FindLink(a, b);
  if (!link.has_value() || links_[*link].segments.empty()) return std::nullopt;
  const std::vector<Segment>& segs = links_[*link].segments;
  size_t i = SegmentIndex(segs, t_s);
  if (segs[i].state == LinkState::kUp) return t_s;
  for (++i; i < segs.size(); ++i) {
    if (segs[i].state == LinkState::kUp) return segs[i].start_s;
  }
  return std::nullopt;
}

double ContactPlan::RemainingUp(int a, int b, double t_s) const {
  std::optional<int> link = FindLink(a, b);
  if (!link.has_value() || links_[*link].segments.empty()) return 0.0;
  const std::vector<Segment>& segs = links_[*link].segments;
  size_t i = SegmentIndex(segs, t_s);
  if (segs[i].state != LinkState::kUp) return 0.0;
  double end = segs[i].end_s;
  // The builder merges equal neighbours; a hand-made plan might not.
  for (++i; i < segs.size() && segs[i].state == LinkState::kUp; ++i) end = segs[i].end_s;
  return std::max(0.0, end - std::max(t_s, 0.0));
}

double ContactPlan::RangeAt(int link, double t_s) const {
  const std::vector<float>& r = links_[link].range_km;
  if (r.empty()) return 0.0;
  if (r.size() == 1 || t_s <= 0.0) return r.front();
  const double t = std::min(t_s, duration_s_);
  const double step = range_sample_step_s_;
  size_t k = static_cast<size_t>(t / step);
  if (k >= r.size() - 1) return r.back();
  const double t0 = k * step;
  // The last sample sits at duration_s, which need not be a whole step after the one before.
  const double t1 = (k + 2 == r.size()) ? std::max(duration_s_, t0 + 1e-12) : t0 + step;
  const double f = std::clamp((t - t0) / (t1 - t0), 0.0, 1.0);
  return r[k] + (static_cast<double>(r[k + 1]) - r[k]) * f;
}

absl::StatusOr<double> ContactPlan::LatencyAt(int a, int b, double t_s) const {
  std::optional<int> link = FindLink(a, b);
  if (!link.has_value()) {
    return absl::NotFoundError(
        absl::StrFormat("no candidate link between satellites %d and %d", a, b));
  }
  return LightTimeS(RangeAt(*link, t_s));
}

absl::StatusOr<double> ContactPlan::RateAt(int a, int b, double t_s) const {
  std::optional<int> link = FindLink(a, b);
  if (!link.has_value()) {
    return absl::NotFoundError(
        absl::StrFormat("no candidate link between satellites %d and %d", a, b));
  }
  return RateAtRange(physics_, RangeAt(*link, t_s));
}

std::optional<Path> ContactPlan::ShortestPath(int from, int to, double t_s) const {
  const int n = num_satellites();
  if (from < 0 || from >= n || to < 0 || to >= n) return std::nullopt;
  if (from == to) {
    Path path;
    path.satellites = {from};
    path.rate_bps = std::numeric_limits<double>::infinity();
    path.remaining_up_s = std::max(0.0, duration_s_ - std::max(t_s, 0.0));
    return path;
  }
  // Dijkstra on (latency, hops): among equal latencies the path with fewer hops wins.
  using Cost = std::pair<double, int>;
  const Cost kInf{std::numeric_limits<double>::infinity(), 0};
  std::vector<Cost> cost(n, kInf);
  std::vector<std::pair<int, int>> via(n, {-1, -1});  // (previous satellite, link)
  std::priority_queue<std::pair<Cost, int>, std::vector<std::pair<Cost, int>>, std::greater<>>
      queue;
  cost[from] = {0.0, 0};
  queue.push({cost[from], from});
  while (!queue.empty()) {
    const auto [c, u] = queue.top();
    queue.pop();
    if (c != cost[u]) continue;
    if (u == to) break;
    for (const auto& [v, link] : adjacency_[u]) {
      const std::vector<Segment>& segs = links_[link].segments;
      if (segs.empty() || segs[SegmentIndex(segs, t_s)].state != LinkState::kUp) continue;
      const Cost next{c.first + LightTimeS(RangeAt(link, t_s)), c.second + 1};
      if (next < cost[v]) {
        cost[v] = next;
        via[v] = {u, link};
        queue.push({next, v});
      }
    }
  }
  if (cost[to].first == kInf.first) return std::nullopt;
  Path path;
  path.latency_s = cost[to].first;
  path.rate_bps = std::numeric_limits<double>::infinity();
  path.remaining_up_s = std::numeric_limits<double>::infinity();
  for (int v = to; v != from; v = via[v].first) {
    path.satellites.push_back(v);
    const Link& l = links_[via[v].second];
    path.rate_bps = std::min(path.rate_bps, RateAtRange(physics_, RangeAt(via[v].second, t_s)));
    path.remaining_up_s = std::min(path.remaining_up_s, RemainingUp(l.a, l.b, t_s));
  }
  path.satellites.push_back(from);
  std::reverse(path.satellites.begin(), path.satellites.end());
  return path;
}

std::vector<Contact> ContactPlan::Contacts() const {
  std::vector<Contact> contacts;
  for (size_t li = 0; li < links_.size(); ++li) {
    const Link& link = links_[li];
    const int index = static_cast<int>(li);
    for (size_t i = 0; i < link.segments.size(); ++i) {
      if (link.segments[i].state != LinkState::kUp) continue;
      Contact c;
      c.link = index;
      c.start_s = link.segments[i].start_s;
      c.end_s = link.segments[i].end_s;
      // Merge up neighbours a hand-made plan may have left unmerged.
      while (i + 1 < link.segments.size() && link.segments[i + 1].state == LinkState::kUp) {
        c.end_s = link.segments[++i].end_s;
      }
      // Range extremes: the interval's ends and every sample strictly inside it.
      double lo = std::min(RangeAt(index, c.start_s), RangeAt(index, c.end_s));
      double hi = std::max(RangeAt(index, c.start_s), RangeAt(index, c.end_s));
      const double step = range_sample_step_s_;
      for (size_t k = static_cast<size_t>(std::max(0.0, std::floor(c.start_s / step)) + 1);
           k < link.range_km.size(); ++k) {
        const double tk = (k + 1 == link.range_km.size()) ? duration_s_ : k * step;
        if (tk >= c.end_s) break;
        if (tk <= c.start_s) continue;
        lo = std::min(lo, static_cast<double>(link.range_km[k]));
        hi = std::max(hi, static_cast<double>(link.range_km[k]));
      }
      c.owlt_min_s = LightTimeS(lo);
      c.owlt_max_s = LightTimeS(hi);
      c.rate_min_bps = RateAtRange(physics_, hi);
      c.rate_max_bps = RateAtRange(physics_, lo);
      contacts.push_back(c);
    }
  }
  return contacts;
}

}  // namespace crosslink::linkmodel
