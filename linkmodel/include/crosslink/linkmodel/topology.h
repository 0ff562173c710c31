// Topology: which satellite pairs carry a candidate crosslink. Terminals are pointed once for the
// scenario window, so the candidates are fixed; the link physics then decides when each is up.
//   kPlusGrid  Walker shells only: each satellite to its in-plane neighbours (p, s+1 mod S) and to
//              the same slot of the next plane (p+1, s). The seam between plane P-1 and plane 0
//              links (P-1, s) to (0, (s + F) mod S) for a Walker delta (RAAN spread 360); a Walker
//              star (spread < 360) has counter-rotating planes at its seam and no seam links.
//   kInRange   every pair within max_range_km with line of sight at t = 0, at most `terminals`
//              links per satellite (shortest first; 0 terminals means no cap).
//   kNearestK  each satellite's k = `terminals` nearest in-range neighbours with line of sight at
//              t = 0, at most k links per satellite (pairs taken greedily by distance).
// cross_plane of a link is true when its ends have different Satellite::plane.
// Pure functions apart from AssignOrbitPlanes, which edits the constellation it is given.
#ifndef CROSSLINK_LINKMODEL_TOPOLOGY_H_
#define CROSSLINK_LINKMODEL_TOPOLOGY_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crosslink/linkmodel/constellation.h"
#include "crosslink/linkmodel/scenario.h"

namespace crosslink::linkmodel {

struct CandidateLink {
  int a = 0;  // satellite indices, a < b
  int b = 0;
  bool cross_plane = false;
};

std::string_view TopologyName(Topology topology);

// Candidate links sorted by (a, b), without duplicates. kInvalidArgument for plus-grid on a
// constellation without a Walker grid, nearest-k with fewer than 1 terminal, a negative terminal
// count, or a satellite without a propagator; the propagator's status (kOutOfRange, naming the
// satellite) when a position at t = 0 is unavailable.
absl::StatusOr<std::vector<CandidateLink>> MakeCandidateLinks(const Constellation& constellation,
                                                              const LinkPhysics& physics);

// Groups satellites (TLE constellations) into orbit planes by their orbit normal r x v at t = 0:
// a satellite joins the first plane whose normal is within tolerance_deg of its own. Planes are
// numbered by increasing RAAN of the normal, slots within a plane by argument of latitude at t = 0,
// so plane and slot mean for TLEs what they mean for Walker shells. Leaves num_planes and
// sats_per_plane untouched (a real constellation is no regular grid). kInvalidArgument for a
// non-positive tolerance; the propagator's status when a state at t = 0 is unavailable.
absl::Status AssignOrbitPlanes(Constellation& constellation, double tolerance_deg);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_TOPOLOGY_H_
