#include "crosslink/linkmodel/topology.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "crosslink/linkmodel/formation.h"
#include "crosslink/linkmodel/link_geometry.h"
#include "crosslink/linkmodel/walker.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

const absl::Time kEpoch = absl::FromCivil(absl::CivilSecond(2025, 1, 23), absl::UTCTimeZone());

double Distance0(const Constellation& c, int a, int b) {
  return Norm(c.satellites[a].propagator->StateAt(0)->position_km -
              c.satellites[b].propagator->StateAt(0)->position_km);
}

std::vector<int> Degrees(const Constellation& c, const std::vector<CandidateLink>& links) {
  std::vector<int> degree(c.satellites.size(), 0);
  for (const CandidateLink& l : links) {
    ++degree[l.a];
    ++degree[l.b];
  }
  return degree;
}

TEST(TopologyTest, PlusGridOfAWalkerDelta) {
  absl::StatusOr<Constellation> c = MakeWalkerDelta(WalkerConfig{}, kEpoch);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<std::vector<CandidateLink>> links = MakeCandidateLinks(*c, LinkPhysics{});
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_EQ(links->size(), 2u * 1584u);
  for (int d : Degrees(*c, *links)) EXPECT_EQ(d, 4);
  std::set<std::pair<int, int>> set;
  for (const CandidateLink& l : *links) {
    EXPECT_LT(l.a, l.b);
    EXPECT_EQ(l.cross_plane, c->satellites[l.a].plane != c->satellites[l.b].plane);
    set.insert({l.a, l.b});
  }
  auto has = [&](int p1, int s1, int p2, int s2) {
    const int a = p1 * 22 + s1, b = p2 * 22 + s2;
    return set.count({std::min(a, b), std::max(a, b)}) > 0;
  };
  EXPECT_TRUE(has(3, 21, 3, 0));  // in-plane ring closes
  EXPECT_TRUE(has(3, 5, 4, 5));   // same slot, next plane
  // Seam: (71, s) meets (0, (s + 39) mod 22) = (0, s + 17 mod 22), not (0, s).
  for (int s = 0; s < 22; ++s) {
    EXPECT_TRUE(has(71, s, 0, (s + 39) % 22)) << s;
    EXPECT_FALSE(has(71, s, 0, s) && (39 % 22) != 0) << s;
  }
  // The seam partners are true neighbours: as close as the other cross-plane pairs.
  double max_cross = 0;
  for (int s = 0; s < 22; ++s)
    max_cross = std::max(max_cross, Distance0(*c, 10 * 22 + s, 11 * 22 + s));
  for (int s = 0; s < 22; ++s) {
    EXPECT_LT(Distance0(*c, 71 * 22 + s, (s + 39) % 22), 1.5 * max_cross) << s;
  }
}

TEST(TopologyTest, PlusGridOfAWalkerStarHasNoSeam) {
  WalkerConfig w{.planes = 6,
                 .sats_per_plane = 11,
                 .phasing = 1,
                 .altitude_km = 780,
                 .inclination_deg = 86.4,
                 .raan_spread_deg = 180};
  absl::StatusOr<Constellation> c = MakeWalkerDelta(w, kEpoch);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<std::vector<CandidateLink>> links = MakeCandidateLinks(*c, LinkPhysics{});
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(links->size(), 66u + 5u * 11u);
  for (const CandidateLink& l : *links) {
    const int pa = c->satellites[l.a].plane, pb = c->satellites[l.b].plane;
    EXPECT_LE(std::abs(pa - pb), 1) << "no link across the counter-rotating seam";
  }
}

TEST(TopologyTest, PlusGridNeedsAWalkerShell) {
  absl::StatusOr<Constellation> c = MakeFormation({FormationConfig{}}, kEpoch);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(MakeCandidateLinks(*c, LinkPhysics{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TopologyTest, NearestKCapsTerminalsAndPicksNearest) {
  absl::StatusOr<Constellation> c = MakeFormation({FormationConfig{}}, kEpoch);
  ASSERT_TRUE(c.ok());
  LinkPhysics p;
  p.topology = Topology::kNearestK;
  p.terminals = 4;
  absl::StatusOr<std::vector<CandidateLink>> links = MakeCandidateLinks(*c, p);
  ASSERT_TRUE(links.ok()) << links.status();
  const std::vector<int> degree = Degrees(*c, *links);
  for (int d : degree) {
    EXPECT_LE(d, 4);
    EXPECT_GE(d, 1);
  }
  // Most satellites use all their terminals in a packed cluster.
  EXPECT_GT(links->size(), 81u * 4u / 2u * 8u / 10u);
  // Every link joins lattice neighbours, never across the cluster.
  for (const CandidateLink& l : *links) {
    EXPECT_LT(Distance0(*c, l.a, l.b), 0.5);
    EXPECT_FALSE(l.cross_plane);
  }
  EXPECT_EQ(
      MakeCandidateLinks(*c, {.topology = Topology::kNearestK, .terminals = 0}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(TopologyTest, InRangeRespectsRangeAndCap) {
  absl::StatusOr<Constellation> c =
      MakeWalkerDelta({.planes = 8, .sats_per_plane = 10, .phasing = 1}, kEpoch);
  ASSERT_TRUE(c.ok());
  LinkPhysics p;
  p.topology = Topology::kInRange;
  p.terminals = 0;  // no cap: every pair in range with line of sight
  p.max_range_km = 3000;
  absl::StatusOr<std::vector<CandidateLink>> all = MakeCandidateLinks(*c, p);
  ASSERT_TRUE(all.ok());
  const LinkThresholds th(p);
  size_t expected = 0;
  for (int a = 0; a < 80; ++a) {
    for (int b = a + 1; b < 80; ++b) {
      const Vec3 pa = c->satellites[a].propagator->StateAt(0)->position_km;
      const Vec3 pb = c->satellites[b].propagator->StateAt(0)->position_km;
      if (Norm(pb - pa) <= 3000 && !SegmentBelowRadius(pa, pb, th.grazing_radius2_km2)) {
        ++expected;
      }
    }
  }
  EXPECT_EQ(all->size(), expected);
  p.terminals = 3;
  absl::StatusOr<std::vector<CandidateLink>> capped = MakeCandidateLinks(*c, p);
  ASSERT_TRUE(capped.ok());
  for (int d : Degrees(*c, *capped)) EXPECT_LE(d, 3);
  for (const CandidateLink& l : *capped) EXPECT_LE(Distance0(*c, l.a, l.b), 3000);
}

TEST(TopologyTest, NearestKHandlesStarlinkSizeQuickly) {
  // 96 x 72 = 6,912 satellites, the size of the full Starlink TLE set.
  absl::StatusOr<Constellation> c =
      MakeWalkerDelta({.planes = 96, .sats_per_plane = 72, .phasing = 5}, kEpoch);
  ASSERT_TRUE(c.ok());
  LinkPhysics p;
  p.topology = Topology::kNearestK;
  p.terminals = 4;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<CandidateLink>> links = MakeCandidateLinks(*c, p);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(links.ok());
  for (int d : Degrees(*c, *links)) EXPECT_LE(d, 4);
  EXPECT_GT(links->size(), 6912u);
  EXPECT_LT(seconds, 10.0);  // about 0.2 s on the 2-core build machine
}

TEST(TopologyTest, AssignOrbitPlanesRecoversWalkerPlanes) {
  absl::StatusOr<Constellation> c =
      MakeWalkerDelta({.planes = 12, .sats_per_plane = 9, .phasing = 4}, kEpoch);
  ASSERT_TRUE(c.ok());
  std::vector<int> true_plane;
  for (Satellite& s : c->satellites) {
    true_plane.push_back(s.plane);
    s.plane = -1;
    s.slot = -1;
  }
  ASSERT_TRUE(AssignOrbitPlanes(*c, 1.0).ok());
  std::map<int, int> mapping;  // assigned -> true
  std::map<int, std::set<int>> slots;
  for (size_t i = 0; i < c->satellites.size(); ++i) {
    const Satellite& s = c->satellites[i];
    auto [it, inserted] = mapping.insert({s.plane, true_plane[i]});
    EXPECT_EQ(it->second, true_plane[i]) << s.name;
    slots[s.plane].insert(s.slot);
  }
  EXPECT_EQ(mapping.size(), 12u);
  // Planes numbered by increasing RAAN: the Walker order, up to where the count starts (plane 0
  // sits at RAAN 0, where the osculating normal may put it just below 360 degrees).
  const int shift = (mapping.begin()->first - mapping.begin()->second + 12) % 12;
  for (const auto& [assigned, truth] : mapping) EXPECT_EQ((assigned - truth + 12) % 12, shift);
  for (const auto& [plane, s] : slots) {
    EXPECT_EQ(s.size(), 9u);
    EXPECT_EQ(*s.rbegin(), 8);
  }
  EXPECT_EQ(AssignOrbitPlanes(*c, 0).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crosslink::linkmodel
