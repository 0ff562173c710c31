#include "crosslink/linkmodel/topology.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/link_geometry.h"

namespace crosslink::linkmodel {
namespace {

absl::StatusOr<std::vector<StateVector>> StatesAtZero(const Constellation& constellation) {
  std::vector<StateVector> states;
  states.reserve(constellation.satellites.size());
  for (const Satellite& sat : constellation.satellites) {
    if (sat.propagator == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("satellite %s has no propagator", sat.name));
    }
    absl::StatusOr<StateVector> s = sat.propagator->StateAt(0.0);
    if (!s.ok()) {
      return absl::Status(s.status().code(), absl::StrFormat("satellite %s at t=0 s: %s", sat.name,
                                                             s.status().message()));
    }
    states.push_back(*s);
  }
  return states;
}

CandidateLink MakeLink(const Constellation& c, int i, int j) {
  CandidateLink link;
  link.a = std::min(i, j);
  link.b = std::max(i, j);
  link.cross_plane = c.satellites[i].plane != c.satellites[j].plane;
  return link;
}

void SortUnique(std::vector<CandidateLink>& links) {
  auto key = [](const CandidateLink& l) { return std::pair(l.a, l.b); };
  std::sort(links.begin(), links.end(),
            [&](const CandidateLink& x, const CandidateLink& y) { return key(x) < key(y); });
  links.erase(
      std::unique(links.begin(), links.end(),
                  [&](const CandidateLink& x, const CandidateLink& y) { return key(x) == key(y); }),
      links.end());
}

absl::StatusOr<std::vector<CandidateLink>> PlusGrid(const Constellation& c) {
  const int planes = c.num_planes, slots = c.sats_per_plane;
  if (planes < 1 || slots < 1 || static_cast<int>(c.satellites.size()) != planes * slots) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topology plus-grid needs a Walker shell (planes x sats_per_plane); this constellation "
        "has %d satellites, num_planes %d, sats_per_plane %d",
        c.satellites.size(), planes, slots));
  }
  std::vector<int> grid(static_cast<size_t>(planes) * slots, -1);
  for (size_t i = 0; i < c.satellites.size(); ++i) {
    const Satellite& sat = c.satellites[i];
    if (sat.plane < 0 || sat.plane >= planes || sat.slot < 0 || sat.slot >= slots ||
        grid[sat.plane * slots + sat.slot] != -1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "topology plus-grid: satellite %s has plane %d slot %d, outside the %dx%d grid or taken "
          "twice",
          sat.name, sat.plane, sat.slot, planes, slots));
    }
    grid[sat.plane * slots + sat.slot] = static_cast<int>(i);
  }
  auto at = [&](int p, int s) { return grid[p * slots + s]; };
  std::vector<CandidateLink> links;
  links.reserve(2 * c.satellites.size());
  const bool delta = c.walker_raan_spread_deg >= 360.0 - 1e-9;
  for (int p = 0; p < planes; ++p) {
    for (int s = 0; s < slots; ++s) {
      if (slots > 1) links.push_back(MakeLink(c, at(p, s), at(p, (s + 1) % slots)));
      if (p + 1 < planes) {
        links.push_back(MakeLink(c, at(p, s), at(p + 1, s)));
      } else if (delta && planes > 1) {
        // Plane P would be plane 0 advanced by F slots: 360 F P / T = 360 F / S.
        links.push_back(MakeLink(c, at(p, s), at(0, (s + c.walker_phasing) % slots)));
      }
    }
  }
  SortUnique(links);
  return links;
}

struct PairDistance {
  double d2;
  int a, b;
};

// Greedy by distance: a pair is taken while both ends have a free terminal (cap <= 0: no cap).
std::vector<CandidateLink> GreedyCap(const Constellation& c, std::vector<PairDistance>& pairs,
                                     int cap) {
  std::sort(pairs.begin(), pairs.end(), [](const PairDistance& x, const PairDistance& y) {
    if (x.d2 != y.d2) return x.d2 < y.d2;
    return std::pair(x.a, x.b) < std::pair(y.a, y.b);
  });
  std::vector<int> degree(c.satellites.size(), 0);
  std::vector<CandidateLink> links;
  for (const PairDistance& p : pairs) {
    if (cap > 0 && (degree[p.a] >= cap || degree[p.b] >= cap)) continue;
    ++degree[p.a];
    ++degree[p.b];
    links.push_back(MakeLink(c, p.a, p.b));
  }
  SortUnique(links);
  return links;
}

// A pair qualifies as a candidate at t = 0 when it is within range and in line of sight.
struct Reach {
  bool range;
  double max_range2;
  bool occlusion;
  double grazing2;
  explicit Reach(const LinkPhysics& physics) {
    const LinkThresholds th(physics);
    range = th.range;
    max_range2 = th.max_range2_km2;
    occlusion = th.occlusion;
    grazing2 = th.grazing_radius2_km2;
  }
  bool InRange(double d2) const { return !range || d2 <= max_range2; }
  bool Visible(const Vec3& a, const Vec3& b) const {
    return !occlusion || !SegmentBelowRadius(a, b, grazing2);
  }
};

std::vector<CandidateLink> InRange(const Constellation& c, const std::vector<StateVector>& s,
                                   const LinkPhysics& physics) {
  const Reach reach(physics);
  const int n = static_cast<int>(s.size());
  std::vector<PairDistance> pairs;
  for (int i = 0; i < n; ++i) {
    const Vec3& pi = s[i].position_km;
    for (int j = i + 1; j < n; ++j) {
      const Vec3 d = s[j].position_km - pi;
      const double d2 = Dot(d, d);
      if (reach.InRange(d2) && reach.Visible(pi, s[j].position_km)) pairs.push_back({d2, i, j});
    }
  }
  return GreedyCap(c, pairs, physics.terminals);
}

std::vector<CandidateLink> NearestK(const Constellation& c, const std::vector<StateVector>& s,
                                    const LinkPhysics& physics) {
  const Reach reach(physics);
  const int n = static_cast<int>(s.size());
  const int k = physics.terminals;
  // best[i]: up to k (d2, j) sorted by distance; worst[i]: the bar a newcomer must beat.
  // O(n^2) with a handful of flops per pair: 24M pairs for Starlink's 6,909 satellites take
  // about 0.1 s, less than a spatial grid's bookkeeping would save.
  std::vector<std::pair<double, int>> best(static_cast<size_t>(n) * k);
  std::vector<int> count(n, 0);
  std::vector<double> worst(n, std::numeric_limits<double>::infinity());
  auto offer = [&](int i, double d2, int j) {
    std::pair<double, int>* list = &best[static_cast<size_t>(i) * k];
    int m = count[i];
    if (m == k) --m;  // drop the farthest
    int pos = m;
    while (pos > 0 && list[pos - 1].first > d2) {
      list[pos] = list[pos - 1];
      --pos;
    }
    list[pos] = {d2, j};
    count[i] = m + 1;
    if (count[i] == k) worst[i] = list[k - 1].first;
  };
  for (int i = 0; i < n; ++i) {
    const Vec3 pi = s[i].position_km;
    for (int j = i + 1; j < n; ++j) {
      const Vec3 d = s[j].position_km - pi;
      const double d2 = Dot(d, d);
      if (!(d2 < worst[i] || d2 < worst[j]) || !reach.InRange(d2)) continue;
      if (!reach.Visible(pi, s[j].position_km)) continue;
      if (d2 < worst[i]) offer(i, d2, j);
      if (d2 < worst[j]) offer(j, d2, i);
    }
  }
  std::vector<PairDistance> pairs;
  for (int i = 0; i < n; ++i) {
    for (int m = 0; m < count[i]; ++m) {
      const auto& [d2, j] = best[static_cast<size_t>(i) * k + m];
      pairs.push_back({d2, std::min(i, j), std::max(i, j)});
    }
  }
  // A pair chosen by both ends appears twice; keep one so it counts once against each cap.
  std::sort(pairs.begin(), pairs.end(), [](const PairDistance& x, const PairDistance& y) {
    return std::pair(x.a, x.b) < std::pair(y.a, y.b);
  });
  pairs.erase(std::unique(pairs.begin(), pairs.end(),
                          [](const PairDistance& x, const PairDistance& y) {
                            return x.a == y.a && x.b == y.b;
                          }),
              pairs.end());
  return GreedyCap(c, pairs, k);
}

}  // namespace

std::string_view TopologyName(Topology topology) {
  switch (topology) {
    case Topology::kPlusGrid:
      return "plus-grid";
    case Topology::kInRange:
      return "in-range";
    case Topology::kNearestK:
      return "nearest-k";
  }
  return "unknown";
}

absl::StatusOr<std::vector<CandidateLink>> MakeCandidateLinks(const Constellation& constellation,
                                                              const LinkPhysics& physics) {
  if (physics.topology == Topology::kPlusGrid) return PlusGrid(constellation);
  if (physics.terminals < 0 || (physics.topology == Topology::kNearestK && physics.terminals < 1)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("links.terminals must be at least 1 for topology %s, got %d",
                        std::string(TopologyName(physics.topology)), physics.terminals));
  }
  ASSIGN_OR_RETURN(std::vector<StateVector> states, StatesAtZero(constellation));
  if (physics.topology == Topology::kInRange) return InRange(constellation, states, physics);
  return NearestK(constellation, states, physics);
}

absl::Status AssignOrbitPlanes(Constellation& constellation, double tolerance_deg) {
  if (!(tolerance_deg > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("plane tolerance_deg must be positive, got %g", tolerance_deg));
  }
  ASSIGN_OR_RETURN(std::vector<StateVector> states, StatesAtZero(constellation));
  const double cos_tol = std::cos(tolerance_deg * kDegToRad);
  std::vector<Vec3> normal_sum;  // per plane, sum of member normals (its direction is the mean)
  std::vector<int> plane_of(states.size());
  std::vector<Vec3> normals(states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    const Vec3 h = Normalized(Cross(states[i].position_km, states[i].velocity_km_s));
    normals[i] = h;
    int found = -1;
    for (size_t p = 0; p < normal_sum.size(); ++p) {
      if (Dot(h, Normalized(normal_sum[p])) >= cos_tol) {
        found = static_cast<int>(p);
        break;
      }
    }
    if (found < 0) {
      found = static_cast<int>(normal_sum.size());
      normal_sum.push_back({});
    }
    normal_sum[found] += h;
    plane_of[i] = found;
  }
  // RAAN of a plane from its normal h = (sin i sin O, -sin i cos O, cos i).
  auto raan = [](const Vec3& h) {
    double o = std::atan2(h.x, -h.y);
    return o < 0 ? o + 2 * kPi : o;
  };
  std::vector<int> order(normal_sum.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return raan(normal_sum[x]) < raan(normal_sum[y]); });
  std::vector<int> number(normal_sum.size());
  for (size_t r = 0; r < order.size(); ++r) number[order[r]] = static_cast<int>(r);

  // Argument of latitude: angle from the ascending node n = z x h, in the orbit's own sense.
  std::vector<std::vector<std::pair<double, int>>> members(normal_sum.size());
  for (size_t i = 0; i < states.size(); ++i) {
    const Vec3& h = normals[i];
    Vec3 node = Cross(Vec3{0, 0, 1}, h);
    if (Norm(node) < 1e-12) node = {1, 0, 0};  // equatorial orbit: measure from x
    node = Normalized(node);
    const Vec3& r = states[i].position_km;
    double u = std::atan2(Dot(r, Cross(h, node)), Dot(r, node));
    if (u < 0) u += 2 * kPi;
    members[plane_of[i]].push_back({u, static_cast<int>(i)});
  }
  for (size_t p = 0; p < members.size(); ++p) {
    std::stable_sort(members[p].begin(), members[p].end());
    for (size_t s = 0; s < members[p].size(); ++s) {
      Satellite& sat = constellation.satellites[members[p][s].second];
      sat.plane = number[p];
      sat.slot = static_cast<int>(s);
    }
  }
  return absl::OkStatus();
}

}  // namespace crosslink::linkmodel
