#include "crosslink/linkmodel/kepler_j2.h"

#include <cmath>

#include "crosslink/linkmodel/constants.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

TEST(KeplerJ2Test, StaysOnItsCircleAtTheAltitude) {
  KeplerJ2Propagator prop(
      {.altitude_km = 550, .inclination_deg = 53, .raan_deg = 10, .arg_latitude_deg = 20});
  for (double t = -3000; t <= 20000; t += 137) {
    const StateVector s = prop.State(t);
    EXPECT_NEAR(Norm(s.position_km) - kEarthRadiusKm, 550.0, 1e-6) << t;
    // Circular: velocity perpendicular to position (up to the tiny RAAN-drift term).
    EXPECT_NEAR(Dot(s.position_km, s.velocity_km_s) / Norm(s.position_km), 0.0, 1e-3);
  }
}

TEST(KeplerJ2Test, PeriodCloseToKeplerButJ2Corrected) {
  KeplerJ2Propagator prop({.altitude_km = 550, .inclination_deg = 53});
  const double a = kEarthRadiusKm + 550;
  const double kepler_s = 2 * kPi * std::sqrt(a * a * a / kEarthMuKm3PerS2);
  EXPECT_NEAR(kepler_s, 5739, 2);
  // At 53 degrees J2 speeds the argument of latitude up: the nodal period is seconds shorter.
  EXPECT_LT(prop.nodal_period_s(), kepler_s - 1.0);
  EXPECT_GT(prop.nodal_period_s(), kepler_s - 30.0);
  // After one nodal period the satellite is back at its ascending-node argument of latitude,
  // on a plane that regressed: z returns to its start.
  const StateVector s0 = prop.State(0), s1 = prop.State(prop.nodal_period_s());
  EXPECT_NEAR(s1.position_km.z, s0.position_km.z, 1e-6);
}

TEST(KeplerJ2Test, RaanRegressesLikeStarlink) {
  const J2Rates r = ComputeJ2Rates(kEarthRadiusKm + 550, 53 * kDegToRad);
  const double deg_per_day = r.raan_rate_rad_s * kRadToDeg * kSecondsPerDay;
  EXPECT_GT(deg_per_day, -5.0);
  EXPECT_LT(deg_per_day, -4.0);
}

TEST(KeplerJ2Test, VelocityIsTheDerivativeOfPosition) {
  KeplerJ2Propagator prop(
      {.altitude_km = 700, .inclination_deg = 98, .raan_deg = 200, .arg_latitude_deg = 33});
  for (double t : {0.0, 1000.0, 4321.0}) {
    const double h = 1e-3;
    const Vec3 fd = (prop.State(t + h).position_km - prop.State(t - h).position_km) / (2 * h);
    EXPECT_NEAR(Norm(fd - prop.State(t).velocity_km_s), 0.0, 1e-6) << t;
  }
}

TEST(KeplerJ2Test, SunSynchronousInclination) {
  // Known values: about 97.8 deg at 600 km, 98.2 deg at 700 km.
  absl::StatusOr<double> i650 = SunSynchronousInclinationDeg(650);
  ASSERT_TRUE(i650.ok());
  EXPECT_GT(*i650, 97.8);
  EXPECT_LT(*i650, 98.2);
  // Its regression follows the mean Sun.
  const J2Rates r = ComputeJ2Rates(kEarthRadiusKm + 650, *i650 * kDegToRad);
  EXPECT_NEAR(r.raan_rate_rad_s / kEarthOrbitRateRadPerS, 1.0, 1e-12);
  EXPECT_EQ(SunSynchronousInclinationDeg(8000).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SunSynchronousInclinationDeg(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crosslink::linkmodel
