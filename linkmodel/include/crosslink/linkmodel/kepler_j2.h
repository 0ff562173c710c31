// KeplerJ2Propagator: a circular orbit with the secular drift of the Earth's J2 oblateness, for
// generated shells (Walker) and formation reference orbits. It is the model a constellation
// designer uses: the plane regresses (RAAN drift) and the satellite runs slightly faster or slower
// than Kepler says, so a shell keeps its shape while drifting against the Sun, exactly as a
// sun-synchronous orbit needs. No short-periodic terms (those matter for metres, not for links).
//
// Immutable after construction; StateAt is const, lock-free and thread-safe. Units: km, s, rad.
#ifndef CROSSLINK_LINKMODEL_KEPLER_J2_H_
#define CROSSLINK_LINKMODEL_KEPLER_J2_H_

#include <cmath>

#include "absl/status/statusor.h"
#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/propagator.h"
#include "crosslink/linkmodel/vec3.h"

namespace crosslink::linkmodel {

// A circular orbit at the scenario epoch (t = 0), angles in degrees.
struct CircularOrbit {
  double altitude_km = 550.0;  // above kEarthRadiusKm
  double inclination_deg = 53.0;
  double raan_deg = 0.0;
  double arg_latitude_deg = 0.0;  // angle from the ascending node along the orbit
};

// Secular J2 rates of a circular orbit of semi-major axis a_km and inclination i_rad.
struct J2Rates {
  double mean_motion_rad_s = 0;        // Keplerian n = sqrt(mu / a^3)
  double raan_rate_rad_s = 0;          // -1.5 n J2 (Re/a)^2 cos i
  double arg_latitude_rate_rad_s = 0;  // n plus the J2 drift of perigee and mean anomaly
};
J2Rates ComputeJ2Rates(double a_km, double inclination_rad);

// Inclination (degrees, > 90) whose J2 regression follows the mean Sun (one turn per tropical
// year). kInvalidArgument when no inclination can (altitude above about 5,900 km) or the
// altitude is not positive.
absl::StatusOr<double> SunSynchronousInclinationDeg(double altitude_km);

class KeplerJ2Propagator final : public Propagator {
 public:
  explicit KeplerJ2Propagator(const CircularOrbit& orbit);

  // Never fails: a circular orbit has a state at every time.
  absl::StatusOr<StateVector> StateAt(double t_s) const override { return State(t_s); }
  // The same without the StatusOr, for callers that know the concrete type (formations).
  StateVector State(double t_s) const;

  const CircularOrbit& orbit() const { return orbit_; }
  double semi_major_axis_km() const { return a_km_; }
  const J2Rates& rates() const { return rates_; }
  // Time for the argument of latitude to advance one turn (the nodal period), seconds.
  double nodal_period_s() const { return 2.0 * kPi / rates_.arg_latitude_rate_rad_s; }

 private:
  CircularOrbit orbit_;
  double a_km_ = 0;
  double cos_i_ = 1, sin_i_ = 0;
  double raan0_rad_ = 0, u0_rad_ = 0;
  J2Rates rates_;
};

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_KEPLER_J2_H_
