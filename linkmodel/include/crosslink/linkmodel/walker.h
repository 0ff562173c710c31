// Walker constellations: T = planes x sats_per_plane satellites on circular J2 orbits, the
// textbook layout of Starlink-like shells (Walker delta, planes spread over 360 degrees of RAAN)
// and of polar shells (Walker star, 180 degrees). The result carries the grid (planes, slots,
// phasing, RAAN spread) that the plus-grid topology needs.
#ifndef CROSSLINK_LINKMODEL_WALKER_H_
#define CROSSLINK_LINKMODEL_WALKER_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/constellation.h"
#include "crosslink/linkmodel/scenario.h"

namespace crosslink::linkmodel {

// Plane p (0-based) flies at RAAN raan_offset + p * raan_spread / planes; slot s of it starts at
// argument of latitude 360 s / S + 360 F p / T (F = phasing). Satellites are named P<p>S<s>, stored
// plane by plane (index = p * S + s), with plane and slot set. kInvalidArgument naming the key
// (walker.planes, ...) when a value is out of range, or when planes * sats_per_plane exceeds
// kMaxSatellites. Pure function; thread-safe.
absl::StatusOr<Constellation> MakeWalkerDelta(const WalkerConfig& config, absl::Time epoch);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_WALKER_H_
