#include "crosslink/linkmodel/link_geometry.h"

#include <cmath>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/sun.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

constexpr double kR = kEarthRadiusKm + 550;

// A point at radius r, latitude and longitude in degrees.
Vec3 At(double r, double lat_deg, double lon_deg) {
  const double la = lat_deg * kDegToRad, lo = lon_deg * kDegToRad;
  return {r * std::cos(la) * std::cos(lo), r * std::cos(la) * std::sin(lo), r * std::sin(la)};
}

LinkPhysics Physics() {
  LinkPhysics p;
  p.grazing_altitude_km = 80;
  p.max_range_km = 5000;
  p.polar_cutoff_deg = 0;
  p.sun_exclusion_deg = 0;
  return p;
}

const Vec3 kSunAlongZ{0, 0, 1};  // out of the way of equatorial links

TEST(LinkGeometryTest, AntipodalSatellitesAreOccluded) {
  LinkPhysics p = Physics();
  p.max_range_km = 0;  // no range limit: only the Earth is in the way
  EXPECT_EQ(EvaluateLink(At(kR, 0, 0), At(kR, 0, 180), kSunAlongZ, p, false), LinkState::kOccluded);
  EXPECT_EQ(EvaluateLink(At(kR, 10, 30), At(kR, -10, 210), kSunAlongZ, p, false),
            LinkState::kOccluded);
}

TEST(LinkGeometryTest, GrazingAltitudeDecides) {
  LinkPhysics p = Physics();
  p.max_range_km = 0;
  // Two satellites 2 phi apart: the chord's lowest point is at r cos(phi).
  const double phi_at_grazing = std::acos((kEarthRadiusKm + 80) / kR) * kRadToDeg;
  EXPECT_EQ(EvaluateLink(At(kR, 0, -(phi_at_grazing - 0.05)), At(kR, 0, phi_at_grazing - 0.05),
                         kSunAlongZ, p, false),
            LinkState::kUp);
  EXPECT_EQ(EvaluateLink(At(kR, 0, -(phi_at_grazing + 0.05)), At(kR, 0, phi_at_grazing + 0.05),
                         kSunAlongZ, p, false),
            LinkState::kOccluded);
  // Off when 0: the check is skipped entirely.
  p.grazing_altitude_km = 0;
  EXPECT_EQ(EvaluateLink(At(kR, 0, 0), At(kR, 0, 180), kSunAlongZ, p, false), LinkState::kUp);
}

TEST(LinkGeometryTest, RangeLimit) {
  LinkPhysics p = Physics();
  p.max_range_km = 3000;
  const Vec3 a = At(kR, 0, 0);
  // 20 degrees apart at 6928 km: chord 2406 km; 30 degrees: 3586 km, still in sight.
  EXPECT_EQ(EvaluateLink(a, At(kR, 0, 20), kSunAlongZ, p, false), LinkState::kUp);
  EXPECT_EQ(EvaluateLink(a, At(kR, 0, 30), kSunAlongZ, p, false), LinkState::kRange);
  p.max_range_km = 0;
  EXPECT_EQ(EvaluateLink(a, At(kR, 0, 30), kSunAlongZ, p, false), LinkState::kUp);
  // Both occluded and out of range: occlusion comes first in the enum, so it is reported.
  EXPECT_EQ(EvaluateLink(a, At(kR, 0, 150), kSunAlongZ, p, false), LinkState::kOccluded);
}

TEST(LinkGeometryTest, PolarCutoffOnlyForCrossPlaneLinks) {
  LinkPhysics p = Physics();
  p.polar_cutoff_deg = 70;
  const Vec3 a = At(kR, 72, 0), b = At(kR, 65, 10), c = At(kR, 60, 5);
  EXPECT_EQ(EvaluateLink(a, b, kSunAlongZ, p, true), LinkState::kPolar);
  EXPECT_EQ(EvaluateLink(b, a, kSunAlongZ, p, true), LinkState::kPolar);  // either end
  EXPECT_EQ(EvaluateLink(a, b, kSunAlongZ, p, false), LinkState::kUp);
  EXPECT_EQ(EvaluateLink(b, c, kSunAlongZ, p, true), LinkState::kUp);
  // Southern hemisphere too.
  EXPECT_EQ(EvaluateLink(At(kR, -71, 0), At(kR, -65, 3), kSunAlongZ, p, true), LinkState::kPolar);
  p.polar_cutoff_deg = 0;
  EXPECT_EQ(EvaluateLink(a, b, kSunAlongZ, p, true), LinkState::kUp);
}

TEST(LinkGeometryTest, SunExclusionInEitherTerminal) {
  LinkPhysics p = Physics();
  p.sun_exclusion_deg = 5;
  const Vec3 a = At(kR, 0, 0);
  const Vec3 b = a + Vec3{0, 1000, 0};  // line of sight along +y
  auto sun_at = [](double deg) {
    return Vec3{std::sin(deg * kDegToRad), std::cos(deg * kDegToRad), 0};
  };
  EXPECT_EQ(EvaluateLink(a, b, sun_at(3), p, false), LinkState::kSun);   // a looks into it
  EXPECT_EQ(EvaluateLink(a, b, -sun_at(3), p, false), LinkState::kSun);  // b looks into it
  EXPECT_EQ(EvaluateLink(a, b, sun_at(6), p, false), LinkState::kUp);
  EXPECT_EQ(EvaluateLink(a, b, sun_at(90), p, false), LinkState::kUp);
  p.sun_exclusion_deg = 0;
  EXPECT_EQ(EvaluateLink(a, b, sun_at(0), p, false), LinkState::kUp);
}

TEST(LinkGeometryTest, SunExclusionAtTheMarchEquinox) {
  // At the 2025 March equinox the Sun lies along +x (RA 0, declination 0). A link pointing along
  // x is blinded; one 10 degrees off is not.
  LinkPhysics p = Physics();
  p.sun_exclusion_deg = 5;
  const Vec3 sun =
      SunDirection(absl::FromCivil(absl::CivilSecond(2025, 3, 20, 9, 1, 0), absl::UTCTimeZone()));
  const Vec3 a = At(kR, 0, 90);
  EXPECT_EQ(EvaluateLink(a, a + Vec3{1500, 0, 0}, sun, p, false), LinkState::kSun);
  const double off = 10 * kDegToRad;
  EXPECT_EQ(EvaluateLink(a, a + Vec3{1500 * std::cos(off), 0, 1500 * std::sin(off)}, sun, p, false),
            LinkState::kUp);
}

TEST(LinkGeometryTest, PrecedenceFollowsTheEnum) {
  LinkPhysics p = Physics();
  p.polar_cutoff_deg = 70;
  p.sun_exclusion_deg = 5;
  p.max_range_km = 100;
  // Out of range, polar and sun at once: range wins.
  const Vec3 a = At(kR, 80, 0), b = a + Vec3{0, 0, 500};
  EXPECT_EQ(EvaluateLink(a, b, kSunAlongZ, p, true), LinkState::kRange);
  p.max_range_km = 5000;
  EXPECT_EQ(EvaluateLink(a, b, kSunAlongZ, p, true), LinkState::kPolar);
  EXPECT_EQ(EvaluateLink(a, b, kSunAlongZ, p, false), LinkState::kSun);
}

TEST(LinkGeometryTest, RateFallsWithSquareOfRangeBeyondReference) {
  LinkPhysics p;
  p.rate_bps = 100e9;
  p.rate_reference_range_km = 1000;
  EXPECT_EQ(RateAtRange(p, 500), 100e9);
  EXPECT_EQ(RateAtRange(p, 1000), 100e9);
  EXPECT_DOUBLE_EQ(RateAtRange(p, 2000), 25e9);
  p.rate_reference_range_km = 0;
  EXPECT_EQ(RateAtRange(p, 4000), 100e9);
  EXPECT_NEAR(LightTimeS(kSpeedOfLightKmPerS * 0.01), 0.01, 1e-15);
}

}  // namespace
}  // namespace crosslink::linkmodel
