#include "crosslink/linkmodel/sun.h"

#include <algorithm>
#include <cmath>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/julian_date.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

double AngleDeg(const Vec3& a, const Vec3& b) {
  return std::acos(std::clamp(Dot(Normalized(a), Normalized(b)), -1.0, 1.0)) * kRadToDeg;
}

double DeclinationDeg(const Vec3& s) { return std::asin(s.z) * kRadToDeg; }

TEST(SunTest, MatchesValladoExample) {
  // Vallado, Fundamentals of Astrodynamics, example 5-1: 2 April 2006, 00:00 UT1,
  // r_sun = (0.9771945, 0.1924424, 0.0834308) AU in the mean-of-date frame.
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2006, 4, 2), absl::UTCTimeZone());
  EXPECT_NEAR(ToJulianDate(t), 2453827.5, 1e-9);
  EXPECT_LT(AngleDeg(SunDirection(t), {0.9771945, 0.1924424, 0.0834308}), 0.001);
}

TEST(SunTest, UnitVector) {
  for (double jd = 2451545.0; jd < 2451545.0 + 400; jd += 13.7) {
    EXPECT_NEAR(Norm(SunDirectionAtJulianDate(jd)), 1.0, 1e-12);
  }
}

TEST(SunTest, EquinoxAndSolstice) {
  // March equinox 2025: 20 March 09:01 UTC; the Sun crosses the equator at RA 0.
  const Vec3 eq =
      SunDirection(absl::FromCivil(absl::CivilSecond(2025, 3, 20, 9, 1, 0), absl::UTCTimeZone()));
  EXPECT_NEAR(DeclinationDeg(eq), 0.0, 0.02);
  EXPECT_LT(AngleDeg(eq, {1, 0, 0}), 0.05);
  // June solstice 2025: 21 June 02:42 UTC, declination = obliquity.
  const Vec3 sol =
      SunDirection(absl::FromCivil(absl::CivilSecond(2025, 6, 21, 2, 42, 0), absl::UTCTimeZone()));
  EXPECT_NEAR(DeclinationDeg(sol), 23.436, 0.02);
  EXPECT_LT(AngleDeg(sol, {0, std::cos(23.436 * kDegToRad), std::sin(23.436 * kDegToRad)}), 0.05);
}

TEST(SunTest, MovesAboutOneDegreePerDay) {
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2025, 1, 23), absl::UTCTimeZone());
  const double a = AngleDeg(SunDirection(t), SunDirection(t + absl::Hours(24)));
  EXPECT_GT(a, 0.95);
  EXPECT_LT(a, 1.1);
}

}  // namespace
}  // namespace crosslink::linkmodel
