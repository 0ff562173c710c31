#include "crosslink/linkmodel/walker.h"

#include <cmath>
#include <set>
#include <string>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/kepler_j2.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

const absl::Time kEpoch = absl::FromCivil(absl::CivilSecond(2025, 1, 23), absl::UTCTimeZone());

StateVector At(const Constellation& c, int i, double t) {
  return *c.satellites[i].propagator->StateAt(t);
}

// RAAN of the plane through the centre and two satellites of it (r x v would include the
// plane's J2 regression in v and tilt the osculating normal by a few thousandths of a degree).
double RaanDeg(const StateVector& s1, const StateVector& s2) {
  const Vec3 h = Cross(s1.position_km, s2.position_km);
  double o = std::atan2(h.x, -h.y) * kRadToDeg;
  return o < 0 ? o + 360 : o;
}

TEST(WalkerTest, StarlinkShellLayout) {
  absl::StatusOr<Constellation> c = MakeWalkerDelta(WalkerConfig{}, kEpoch);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->satellites.size(), 1584u);
  EXPECT_EQ(c->num_planes, 72);
  EXPECT_EQ(c->sats_per_plane, 22);
  EXPECT_EQ(c->epoch, kEpoch);
  std::set<std::string> names;
  for (int p = 0; p < 72; ++p) {
    for (int s = 0; s < 22; ++s) {
      const Satellite& sat = c->satellites[p * 22 + s];
      EXPECT_EQ(sat.name, "P" + std::to_string(p) + "S" + std::to_string(s));
      EXPECT_EQ(sat.plane, p);
      EXPECT_EQ(sat.slot, s);
      names.insert(sat.name);
    }
  }
  EXPECT_EQ(names.size(), 1584u);
}

TEST(WalkerTest, PlanesEvenlySpacedInRaan) {
  absl::StatusOr<Constellation> c = MakeWalkerDelta(WalkerConfig{}, kEpoch);
  ASSERT_TRUE(c.ok());
  for (int p = 0; p < 72; ++p) {
    EXPECT_NEAR(std::remainder(RaanDeg(At(*c, p * 22, 0), At(*c, p * 22 + 3, 0)) - p * 5.0, 360), 0,
                1e-6)
        << p;
    // Every satellite of a plane shares its plane.
    EXPECT_NEAR(
        std::remainder(RaanDeg(At(*c, p * 22 + 7, 0), At(*c, p * 22 + 13, 0)) - p * 5.0, 360), 0,
        1e-6)
        << p;
  }
}

TEST(WalkerTest, AltitudeInclinationAndPeriod) {
  absl::StatusOr<Constellation> c = MakeWalkerDelta(WalkerConfig{}, kEpoch);
  ASSERT_TRUE(c.ok());
  const auto* prop = dynamic_cast<const KeplerJ2Propagator*>(c->satellites[0].propagator.get());
  ASSERT_NE(prop, nullptr);
  const double period_s = prop->nodal_period_s();
  EXPECT_NEAR(period_s, 5730, 15);  // one orbit of the shell, as the scenarios assume
  for (int i : {0, 100, 777, 1583}) {
    for (double t = 0; t <= period_s; t += 600) {
      const StateVector s = At(*c, i, t);
      EXPECT_NEAR(Norm(s.position_km) - kEarthRadiusKm, 550, 1e-6);
      const int mate = (i / 22) * 22 + (i % 22 + 3) % 22;  // same plane, 3 slots on
      const Vec3 h = Normalized(Cross(s.position_km, At(*c, mate, t).position_km));
      EXPECT_NEAR(std::acos(h.z) * kRadToDeg, 53, 1e-3);
    }
  }
}

TEST(WalkerTest, PhasingBetweenPlanes) {
  WalkerConfig w;
  absl::StatusOr<Constellation> c = MakeWalkerDelta(w, kEpoch);
  ASSERT_TRUE(c.ok());
  // Slot 0 of plane p starts at argument of latitude 360 F p / T; at RAAN p*5 deg the ascending
  // node lies along (cos O, sin O, 0), so u is the angle of r from it within the plane.
  for (int p : {0, 1, 5, 71}) {
    const StateVector s = At(*c, p * 22, 0);
    const double o = p * 5.0 * kDegToRad;
    const Vec3 node{std::cos(o), std::sin(o), 0};
    const Vec3 h = Normalized(Cross(s.position_km, At(*c, p * 22 + 1, 0).position_km));
    double u = std::atan2(Dot(s.position_km, Cross(h, node)), Dot(s.position_km, node)) * kRadToDeg;
    if (u < 0) u += 360;
    const double expected = std::fmod(360.0 * w.phasing * p / 1584.0, 360.0);
    EXPECT_NEAR(u, expected, 1e-6) << p;
  }
}

TEST(WalkerTest, StarSpreadsPlanesOver180Degrees) {
  WalkerConfig w{.planes = 6,
                 .sats_per_plane = 11,
                 .phasing = 0,
                 .altitude_km = 780,
                 .inclination_deg = 86.4,
                 .raan_spread_deg = 180};
  absl::StatusOr<Constellation> c = MakeWalkerDelta(w, kEpoch);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->walker_raan_spread_deg, 180);
  EXPECT_NEAR(RaanDeg(At(*c, 5 * 11, 0), At(*c, 5 * 11 + 2, 0)), 150.0, 1e-6);
}

TEST(WalkerTest, RejectsBadValuesNamingTheKey) {
  auto code = [](WalkerConfig w) { return MakeWalkerDelta(w, kEpoch).status().code(); };
  EXPECT_EQ(code({.planes = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.sats_per_plane = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.phasing = 72}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.altitude_km = -5}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.inclination_deg = 190}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.raan_spread_deg = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MakeWalkerDelta({.phasing = -1}, kEpoch).status().message().find("walker.phasing"),
            std::string::npos);
}

// planes * sats_per_plane overflowed int (50000 * 50000 wraps negative): bounded in 64 bits.
TEST(WalkerTest, RejectsMoreThanMaxSatellitesNamingBothKeys) {
  const absl::Status huge = MakeWalkerDelta({.planes = 50000, .sats_per_plane = 50000}, kEpoch)
                                .status();
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(huge.message().find("walker.planes * walker.sats_per_plane"), std::string::npos);
  EXPECT_NE(huge.message().find("100000"), std::string::npos);
  EXPECT_EQ(MakeWalkerDelta({.planes = 1000, .sats_per_plane = 101, .phasing = 0}, kEpoch)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Constellation> at_limit =
      MakeWalkerDelta({.planes = 1000, .sats_per_plane = 100, .phasing = 0}, kEpoch);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(static_cast<int64_t>(at_limit->satellites.size()), kMaxSatellites);
}

}  // namespace
}  // namespace crosslink::linkmodel
