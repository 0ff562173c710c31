// Link geometry: whether a laser crosslink between two satellites can close at one instant, and
// how fast it runs at a given range. This is the inner loop of contact-plan building (tens of
// millions of evaluations per plan), so everything is inline and works on squared quantities:
// LinkThresholds precomputes the squares and cosines once per plan.
//
// Checks, in the precedence of LinkState (the first that fails is reported), each off when its
// LinkPhysics value is 0:
//   kOccluded  the segment a-b passes below kEarthRadiusKm + grazing_altitude_km (spherical Earth)
//   kRange     |b - a| > max_range_km
//   kPolar     cross-plane link and either end's |geocentric latitude| > polar_cutoff_deg
//   kSun       the Sun within sun_exclusion_deg of either terminal's line of sight, i.e. the
//              angle between (b - a) and the Sun, or between (a - b) and the Sun (the Sun is so
//              far that both terminals see it in the same direction)
// Pure functions; thread-safe.
#ifndef CROSSLINK_LINKMODEL_LINK_GEOMETRY_H_
#define CROSSLINK_LINKMODEL_LINK_GEOMETRY_H_

#include <cmath>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/contact_plan.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/vec3.h"

namespace crosslink::linkmodel {

// LinkPhysics turned into the squared/cosine thresholds the inner loop compares against.
struct LinkThresholds {
  bool occlusion = false;
  double grazing_radius2_km2 = 0;
  bool range = false;
  double max_range2_km2 = 0;
  bool polar = false;
  double sin2_polar_cutoff = 0;
  bool sun = false;
  double cos2_sun_exclusion = 0;

  explicit LinkThresholds(const LinkPhysics& physics) {
    occlusion = physics.grazing_altitude_km != 0.0;
    const double rg = kEarthRadiusKm + physics.grazing_altitude_km;
    grazing_radius2_km2 = rg * rg;
    range = physics.max_range_km != 0.0;
    max_range2_km2 = physics.max_range_km * physics.max_range_km;
    polar = physics.polar_cutoff_deg != 0.0;
    const double sp = std::sin(physics.polar_cutoff_deg * kDegToRad);
    sin2_polar_cutoff = sp * sp;
    sun = physics.sun_exclusion_deg != 0.0;
    const double cs = std::cos(physics.sun_exclusion_deg * kDegToRad);
    // Both line-of-sight directions lie within 90 degrees of the Sun's, so 90 or more excludes all.
    cos2_sun_exclusion = physics.sun_exclusion_deg >= 90.0 ? -1.0 : cs * cs;
  }
};

// True when the straight segment a-b comes closer to the Earth's centre than sqrt(radius2_km2).
inline bool SegmentBelowRadius(const Vec3& a, const Vec3& b, double radius2_km2) {
  const Vec3 d = b - a;
  const double dd = Dot(d, d);
  double s = dd > 0.0 ? -Dot(a, d) / dd : 0.0;  // parameter of the closest point to the centre
  s = s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
  const Vec3 closest = a + d * s;
  return Dot(closest, closest) < radius2_km2;
}

// |geocentric latitude| of p above the cut-off whose squared sine is sin2.
inline bool AboveLatitude(const Vec3& p, double sin2) { return p.z * p.z > sin2 * Dot(p, p); }

// State of the link a-b with the Sun towards sun_unit (a unit vector). Never kAcquiring/kFault:
// those come from history and chance, not geometry.
inline LinkState EvaluateLink(const Vec3& a, const Vec3& b, const Vec3& sun_unit,
                              const LinkThresholds& th, bool cross_plane) {
  const Vec3 d = b - a;
  const double d2 = Dot(d, d);
  if (th.occlusion && SegmentBelowRadius(a, b, th.grazing_radius2_km2)) return LinkState::kOccluded;
  if (th.range && d2 > th.max_range2_km2) return LinkState::kRange;
  if (th.polar && cross_plane &&
      (AboveLatitude(a, th.sin2_polar_cutoff) || AboveLatitude(b, th.sin2_polar_cutoff))) {
    return LinkState::kPolar;
  }
  if (th.sun) {
    // angle(+-d, sun) < exclusion  <=>  |d . sun| > |d| cos(exclusion) (exclusion < 90 deg).
    const double ds = Dot(d, sun_unit);
    if (ds * ds > d2 * th.cos2_sun_exclusion) return LinkState::kSun;
  }
  return LinkState::kUp;
}

// Convenience form that builds the thresholds; for tests and one-off queries.
inline LinkState EvaluateLink(const Vec3& a, const Vec3& b, const Vec3& sun_unit,
                              const LinkPhysics& physics, bool cross_plane) {
  return EvaluateLink(a, b, sun_unit, LinkThresholds(physics), cross_plane);
}

// Data rate at range_km: rate_bps up to rate_reference_range_km, then rate_bps (ref/range)^2
// (the beam spreads, so received power falls with the square of range). Fixed when ref is 0.
inline double RateAtRange(const LinkPhysics& physics, double range_km) {
  const double ref = physics.rate_reference_range_km;
  if (ref <= 0.0 || range_km <= ref) return physics.rate_bps;
  const double f = ref / range_km;
  return physics.rate_bps * f * f;
}

// One-way light time over range_km, seconds.
inline double LightTimeS(double range_km) { return range_km / kSpeedOfLightKmPerS; }

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_LINK_GEOMETRY_H_
