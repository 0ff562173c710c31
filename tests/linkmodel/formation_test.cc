#include "crosslink/linkmodel/formation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/kepler_j2.h"
#include "crosslink/linkmodel/sun.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

const absl::Time kEpoch = absl::FromCivil(absl::CivilSecond(2025, 1, 23), absl::UTCTimeZone());

std::vector<Vec3> Positions(const Constellation& c, double t) {
  std::vector<Vec3> out;
  for (const Satellite& s : c.satellites) out.push_back(s.propagator->StateAt(t)->position_km);
  return out;
}

TEST(FormationTest, SuncatcherClusterNamesAndPlanes) {
  absl::StatusOr<Constellation> c = MakeFormation({FormationConfig{}, FormationConfig{}}, kEpoch);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->satellites.size(), 162u);
  EXPECT_EQ(c->satellites[0].name, "C0S0");
  EXPECT_EQ(c->satellites[80].name, "C0S80");
  EXPECT_EQ(c->satellites[81].name, "C1S0");
  EXPECT_EQ(c->satellites[81].plane, 1);
  EXPECT_EQ(c->satellites[85].slot, 4);
  EXPECT_EQ(c->num_planes, 0);  // no Walker grid
}

TEST(FormationTest, EverySatelliteStaysWithinTheRadiusOverAnOrbit) {
  FormationConfig config;  // 81 satellites, 1 km
  absl::StatusOr<Constellation> c = MakeFormation({config}, kEpoch);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<CircularOrbit> orbit = FormationReferenceOrbit(config, kEpoch);
  ASSERT_TRUE(orbit.ok());
  const KeplerJ2Propagator reference(*orbit);
  const double period_s = reference.nodal_period_s();
  const std::vector<Vec3> p0 = Positions(*c, 0);
  double max_from_centre = 0;
  for (double t = 0; t <= period_s; t += 60) {
    const Vec3 centre = reference.State(t).position_km;
    const std::vector<Vec3> p = Positions(*c, t);
    for (size_t i = 0; i < p.size(); ++i) {
      max_from_centre = std::max(max_from_centre, Norm(p[i] - centre));
    }
    // Bounded relative orbits without drift: the cluster keeps its shape (spacings constant).
    for (size_t i = 0; i < p.size(); i += 7) {
      for (size_t j = i + 1; j < p.size(); j += 5) {
        EXPECT_NEAR(Norm(p[i] - p[j]), Norm(p0[i] - p0[j]), 1e-6);
      }
    }
  }
  EXPECT_LE(max_from_centre, config.radius_km + 1e-9);
  EXPECT_GT(max_from_centre, 0.9 * config.radius_km);  // the cluster uses its room
}

TEST(FormationTest, TightlyPackedHundredsOfMetresApart) {
  absl::StatusOr<Constellation> c = MakeFormation({FormationConfig{}}, kEpoch);
  ASSERT_TRUE(c.ok());
  const std::vector<Vec3> p = Positions(*c, 1234);
  double min_all = std::numeric_limits<double>::infinity();
  double max_nearest = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double nearest = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < p.size(); ++j) {
      if (i != j) nearest = std::min(nearest, Norm(p[i] - p[j]));
    }
    min_all = std::min(min_all, nearest);
    max_nearest = std::max(max_nearest, nearest);
  }
  EXPECT_GT(min_all, 0.1);      // no two closer than 100 m
  EXPECT_LT(max_nearest, 0.4);  // every satellite has a neighbour within 400 m
}

TEST(FormationTest, DawnDuskSunSynchronousReference) {
  absl::StatusOr<CircularOrbit> orbit = FormationReferenceOrbit(FormationConfig{}, kEpoch);
  ASSERT_TRUE(orbit.ok());
  EXPECT_NEAR(orbit->inclination_deg, *SunSynchronousInclinationDeg(650), 1e-12);
  const KeplerJ2Propagator prop(*orbit);
  const StateVector s = prop.State(0);
  const Vec3 h = Normalized(Cross(s.position_km, s.velocity_km_s));
  const Vec3 sun = SunDirection(kEpoch);
  // The normal's equatorial part points at the Sun's: the orbit rides the terminator.
  const double az_h = std::atan2(h.y, h.x), az_sun = std::atan2(sun.y, sun.x);
  EXPECT_NEAR(std::remainder(az_h - az_sun, 2 * kPi), 0.0, 1e-9);
  EXPECT_LT(std::acos(Dot(h, sun)) * kRadToDeg, 30.0);
  // The offset turns the plane.
  absl::StatusOr<CircularOrbit> shifted =
      FormationReferenceOrbit(FormationConfig{.raan_offset_deg = 2.0}, kEpoch);
  EXPECT_NEAR(shifted->raan_deg - orbit->raan_deg, 2.0, 1e-12);
}

TEST(FormationTest, VelocityIsTheDerivativeOfPosition) {
  absl::StatusOr<Constellation> c = MakeFormation({FormationConfig{}}, kEpoch);
  ASSERT_TRUE(c.ok());
  for (int i : {0, 5, 80}) {
    const Propagator& prop = *c->satellites[i].propagator;
    const double t = 777, h = 1e-3;
    const Vec3 fd = (prop.StateAt(t + h)->position_km - prop.StateAt(t - h)->position_km) / (2 * h);
    // Within 1 mm/s: only the plane's slow regression is left out of the frame rate.
    EXPECT_NEAR(Norm(fd - prop.StateAt(t)->velocity_km_s), 0.0, 1e-6) << i;
  }
}

TEST(FormationTest, RejectsBadValues) {
  EXPECT_EQ(MakeFormation({}, kEpoch).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeFormation({FormationConfig{.count = 0}}, kEpoch).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      MakeFormation({FormationConfig{}, FormationConfig{.radius_km = -1}}, kEpoch).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeFormation({FormationConfig{.altitude_km = 9000}}, kEpoch).status().code(),
            absl::StatusCode::kInvalidArgument);  // no sun-synchronous inclination up there
  EXPECT_EQ(MakeFormation({FormationConfig{.count = 1}}, kEpoch)->satellites.size(), 1u);
}

// Each cluster's count is bounded by the loader, their sum was not.
TEST(FormationTest, RejectsMoreThanMaxSatellitesOverAllClusters) {
  const std::vector<FormationConfig> clusters(3, FormationConfig{.count = 40000});
  const absl::Status s = MakeFormation(clusters, kEpoch).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("at most 100000"), std::string::npos) << s;
}

}  // namespace
}  // namespace crosslink::linkmodel
