#include "crosslink/linkmodel/walker.h"

#include <cmath>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/linkmodel/kepler_j2.h"

namespace crosslink::linkmodel {
namespace {

absl::Status Invalid(std::string_view key, std::string_view reason, double value) {
  return absl::InvalidArgumentError(
      absl::StrFormat("walker.%s %s, got %g", std::string(key), std::string(reason), value));
}

}  // namespace

absl::StatusOr<Constellation> MakeWalkerDelta(const WalkerConfig& config, absl::Time epoch) {
  if (config.planes < 1) return Invalid("planes", "must be at least 1", config.planes);
  if (config.sats_per_plane < 1) {
    return Invalid("sats_per_plane", "must be at least 1", config.sats_per_plane);
  }
  // 64-bit product: planes and sats_per_plane each fit an int, their product need not.
  const int64_t total64 = static_cast<int64_t>(config.planes) * config.sats_per_plane;
  if (total64 > kMaxSatellites) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "walker.planes * walker.sats_per_plane is %d * %d = %d satellites; at most %d are allowed",
        config.planes, config.sats_per_plane, total64, kMaxSatellites));
  }
  if (config.phasing < 0 || config.phasing >= config.planes) {
    return Invalid("phasing", "must be in [0, planes)", config.phasing);
  }
  if (!(config.altitude_km > 0.0) || !std::isfinite(config.altitude_km)) {
    return Invalid("altitude_km", "must be positive", config.altitude_km);
  }
  if (!(config.inclination_deg >= 0.0 && config.inclination_deg <= 180.0)) {
    return Invalid("inclination_deg", "must be in [0, 180]", config.inclination_deg);
  }
  if (!(config.raan_spread_deg > 0.0 && config.raan_spread_deg <= 360.0)) {
    return Invalid("raan_spread_deg", "must be in (0, 360]", config.raan_spread_deg);
  }
  if (!std::isfinite(config.raan_offset_deg)) {
    return Invalid("raan_offset_deg", "must be finite", config.raan_offset_deg);
  }

  Constellation constellation;
  constellation.epoch = epoch;
  constellation.num_planes = config.planes;
  constellation.sats_per_plane = config.sats_per_plane;
  constellation.walker_phasing = config.phasing;
  constellation.walker_raan_spread_deg = config.raan_spread_deg;
  const int total = static_cast<int>(total64);
  constellation.satellites.reserve(total);
  for (int p = 0; p < config.planes; ++p) {
    for (int s = 0; s < config.sats_per_plane; ++s) {
      CircularOrbit orbit;
      orbit.altitude_km = config.altitude_km;
      orbit.inclination_deg = config.inclination_deg;
      orbit.raan_deg = config.raan_offset_deg + p * config.raan_spread_deg / config.planes;
      orbit.arg_latitude_deg = 360.0 * s / config.sats_per_plane +
                               360.0 * config.phasing * p / static_cast<double>(total);
      Satellite sat;
      sat.name = absl::StrCat("P", p, "S", s);
      sat.plane = p;
      sat.slot = s;
      sat.propagator = std::make_shared<KeplerJ2Propagator>(orbit);
      constellation.satellites.push_back(std::move(sat));
    }
  }
  return constellation;
}

}  // namespace crosslink::linkmodel
