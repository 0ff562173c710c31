#include "crosslink/linkmodel/kepler_j2.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crosslink/linkmodel/constants.h"

namespace crosslink::linkmodel {

J2Rates ComputeJ2Rates(double a_km, double inclination_rad) {
  J2Rates rates;
  const double n = std::sqrt(kEarthMuKm3PerS2 / (a_km * a_km * a_km));
  const double k = kEarthJ2 * (kEarthRadiusKm / a_km) * (kEarthRadiusKm / a_km);
  const double c = std::cos(inclination_rad);
  rates.mean_motion_rad_s = n;
  rates.raan_rate_rad_s = -1.5 * n * k * c;
  // For e = 0 the argument of latitude u = omega + M; both drift under J2 (Vallado eq. 9-41):
  // omega_dot = 0.75 n k (5 cos^2 i - 1), M_dot = n (1 + 0.75 k (3 cos^2 i - 1)).
  const double omega_dot = 0.75 * n * k * (5.0 * c * c - 1.0);
  const double m_dot = n * (1.0 + 0.75 * k * (3.0 * c * c - 1.0));
  rates.arg_latitude_rate_rad_s = omega_dot + m_dot;
  return rates;
}

absl::StatusOr<double> SunSynchronousInclinationDeg(double altitude_km) {
  if (!(altitude_km > 0.0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sun-synchronous orbit: altitude_km must be positive, got %g", altitude_km));
  }
  const double a = kEarthRadiusKm + altitude_km;
  const double n = std::sqrt(kEarthMuKm3PerS2 / (a * a * a));
  const double k = kEarthJ2 * (kEarthRadiusKm / a) * (kEarthRadiusKm / a);
  const double cos_i = -kEarthOrbitRateRadPerS / (1.5 * n * k);
  if (cos_i < -1.0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sun-synchronous orbit: no inclination regresses fast enough at altitude_km %g",
        altitude_km));
  }
  return std::acos(cos_i) * kRadToDeg;
}

KeplerJ2Propagator::KeplerJ2Propagator(const CircularOrbit& orbit)
    : orbit_(orbit), a_km_(kEarthRadiusKm + orbit.altitude_km) {
  const double i = orbit.inclination_deg * kDegToRad;
  cos_i_ = std::cos(i);
  sin_i_ = std::sin(i);
  raan0_rad_ = orbit.raan_deg * kDegToRad;
  u0_rad_ = orbit.arg_latitude_deg * kDegToRad;
  rates_ = ComputeJ2Rates(a_km_, i);
}

StateVector KeplerJ2Propagator::State(double t_s) const {
  const double raan = raan0_rad_ + rates_.raan_rate_rad_s * t_s;
  const double u = u0_rad_ + rates_.arg_latitude_rate_rad_s * t_s;
  const double co = std::cos(raan), so = std::sin(raan);
  const double cu = std::cos(u), su = std::sin(u);
  // r = a (cos u * node + sin u * (h x node)), node = (cos O, sin O, 0).
  const Vec3 p{cu * co - su * cos_i_ * so, cu * so + su * cos_i_ * co, su * sin_i_};
  const Vec3 dp_du{-su * co - cu * cos_i_ * so, -su * so + cu * cos_i_ * co, cu * sin_i_};
  StateVector s;
  s.position_km = p * a_km_;
  // d/dt = u_dot d/du + raan_dot d/dO, and d/dO rotates about z: (-y, x, 0).
  s.velocity_km_s = dp_du * (a_km_ * rates_.arg_latitude_rate_rad_s) +
                    Vec3{-p.y, p.x, 0.0} * (a_km_ * rates_.raan_rate_rad_s);
  return s;
}

}  // namespace crosslink::linkmodel
