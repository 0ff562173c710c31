#include "crosslink/linkmodel/sun.h"

#include <cmath>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/julian_date.h"

namespace crosslink::linkmodel {

Vec3 SunDirectionAtJulianDate(double jd) {
  // Vallado, Fundamentals of Astrodynamics, algorithm 29.
  const double t = (jd - 2451545.0) / 36525.0;  // Julian centuries since J2000
  const double mean_longitude_deg = 280.460 + 36000.771 * t;
  const double mean_anomaly_rad = (357.5291092 + 35999.05034 * t) * kDegToRad;
  const double ecliptic_longitude_rad =
      (mean_longitude_deg + 1.914666471 * std::sin(mean_anomaly_rad) +
       0.019994643 * std::sin(2.0 * mean_anomaly_rad)) *
      kDegToRad;
  const double obliquity_rad = (23.439291 - 0.0130042 * t) * kDegToRad;
  const double cl = std::cos(ecliptic_longitude_rad), sl = std::sin(ecliptic_longitude_rad);
  // Already a unit vector: rotating (cos l, sin l, 0) about x by the obliquity.
  return {cl, std::cos(obliquity_rad) * sl, std::sin(obliquity_rad) * sl};
}

Vec3 SunDirection(absl::Time t) { return SunDirectionAtJulianDate(ToJulianDate(t)); }

}  // namespace crosslink::linkmodel
