// Constellation: the satellites of a scenario, each with a name and a propagator. Built from a
// scenario (Walker shell, formation cluster(s), or TLEs) by BuildConstellation in scenario code;
// consumed by the contact-plan builder. Owns its propagators; move-only.
#ifndef CROSSLINK_LINKMODEL_CONSTELLATION_H_
#define CROSSLINK_LINKMODEL_CONSTELLATION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "crosslink/linkmodel/propagator.h"

namespace crosslink::linkmodel {

// The most satellites a generated constellation may hold (Walker: planes * sats_per_plane); more
// is a typo, not a shell, and would exhaust memory before any error surfaced.
inline constexpr int64_t kMaxSatellites = 100'000;

struct Satellite {
  // Unique within the constellation: the trimmed TLE name line, `P<plane>S<slot>` for Walker
  // shells (zero-based), `C<cluster>S<index>` for formation clusters.
  std::string name;
  // NORAD catalogue number for TLE satellites, 0 for generated ones.
  int64_t norad_id = 0;
  // Orbit plane identity. Links between satellites with different planes are cross-plane (the
  // polar cut-off applies to them). Walker: the plane index; formation: the cluster index (a
  // cluster flies as one plane); TLE: planes are grouped by the constellation builder from the
  // orbit normals, so satellites of one orbital plane share a number.
  int plane = 0;
  // Position within the plane (Walker slot, formation index, TLE order); for plus-grid.
  int slot = 0;
  std::shared_ptr<const Propagator> propagator;
};

struct Constellation {
  // Orbit time 0: every t_s in the link model is seconds since this instant (UTC).
  absl::Time epoch;
  std::vector<Satellite> satellites;
  // Walker shells only: planes x slots, for the plus-grid topology. 0 otherwise.
  int num_planes = 0;
  int sats_per_plane = 0;
  // Walker shells only: the phasing F and the RAAN spread (360 delta, 180 star), which decide
  // how the plus-grid closes its seam between the last plane and the first.
  int walker_phasing = 0;
  double walker_raan_spread_deg = 0.0;

  // Index of the satellite with this name, or nullopt.
  std::optional<int> Find(std::string_view name) const {
    for (size_t i = 0; i < satellites.size(); ++i) {
      if (satellites[i].name == name) return static_cast<int>(i);
    }
    return std::nullopt;
  }
};

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_CONSTELLATION_H_
