#include "crosslink/linkmodel/contact_plan.h"

#include <cmath>
#include <vector>

#include "crosslink/linkmodel/constants.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

constexpr double kC = kSpeedOfLightKmPerS;

Link MakeLink(int a, int b, std::vector<Segment> segments, std::vector<float> range_km) {
  Link l;
  l.a = a;
  l.b = b;
  l.segments = std::move(segments);
  l.range_km = std::move(range_km);
  return l;
}

std::vector<float> Constant(float km) { return std::vector<float>(11, km); }

// Four satellites over 100 s, range samples every 10 s:
//   0-1  up throughout (given as two adjacent up segments), 3000 km
//   1-2  up, sun-blinded 40-60, acquiring 60-70, up again; 3000 km
//   0-2  up throughout, 9000 km (the long way round)
//   2-3  up until 30, occluded after; range growing 1000 -> 2000 km
ContactPlan FourSatellites() {
  LinkPhysics physics;
  physics.rate_bps = 100e9;
  physics.rate_reference_range_km = 1000;
  std::vector<float> growing;
  for (int k = 0; k <= 10; ++k) growing.push_back(1000.0f + 100.0f * k);
  std::vector<Link> links = {
      MakeLink(0, 1, {{0, 50, LinkState::kUp}, {50, 100, LinkState::kUp}}, Constant(3000)),
      MakeLink(1, 2,
               {{0, 40, LinkState::kUp},
                {40, 60, LinkState::kSun},
                {60, 70, LinkState::kAcquiring},
                {70, 100, LinkState::kUp}},
               Constant(3000)),
      MakeLink(0, 2, {{0, 100, LinkState::kUp}}, Constant(9000)),
      MakeLink(2, 3, {{0, 30, LinkState::kUp}, {30, 100, LinkState::kOccluded}}, growing),
  };
  return ContactPlan({"A", "B", "C", "D"}, absl::UnixEpoch(), 100, 10, physics, false,
                     std::move(links));
}

TEST(ContactPlanTest, FindLinkEitherOrder) {
  const ContactPlan plan = FourSatellites();
  EXPECT_EQ(plan.FindLink(0, 1), 0);
  EXPECT_EQ(plan.FindLink(1, 0), 0);
  EXPECT_EQ(plan.FindLink(3, 2), 3);
  EXPECT_FALSE(plan.FindLink(0, 3).has_value());
}

TEST(ContactPlanTest, StateAtWithClamping) {
  const ContactPlan plan = FourSatellites();
  EXPECT_EQ(plan.StateAt(1, 2, 45), LinkState::kSun);
  EXPECT_EQ(plan.StateAt(2, 1, 40), LinkState::kSun);  // segments are [start, end)
  EXPECT_EQ(plan.StateAt(1, 2, 39.999), LinkState::kUp);
  EXPECT_EQ(plan.StateAt(1, 2, 65), LinkState::kAcquiring);
  EXPECT_EQ(plan.StateAt(1, 2, -5), LinkState::kUp);
  EXPECT_EQ(plan.StateAt(2, 3, 500), LinkState::kOccluded);
  EXPECT_FALSE(plan.Up(0, 3, 10));  // no candidate link: never up
  EXPECT_TRUE(plan.Up(0, 1, 99.9));
  EXPECT_EQ(LinkStateName(LinkState::kPolar), "polar");
  EXPECT_EQ(LinkStateName(LinkState::kFault), "fault");
}

TEST(ContactPlanTest, NextUpAndRemainingUp) {
  const ContactPlan plan = FourSatellites();
  EXPECT_EQ(plan.NextUp(1, 2, 45), 70.0);  // acquisition is not up
  EXPECT_EQ(plan.NextUp(1, 2, 10), 10.0);
  EXPECT_FALSE(plan.NextUp(2, 3, 50).has_value());
  EXPECT_FALSE(plan.NextUp(0, 3, 0).has_value());
  EXPECT_DOUBLE_EQ(plan.RemainingUp(1, 2, 10), 30);
  EXPECT_EQ(plan.RemainingUp(1, 2, 45), 0);
  // Adjacent up segments count as one stretch.
  EXPECT_DOUBLE_EQ(plan.RemainingUp(0, 1, 20), 80);
  EXPECT_EQ(plan.RemainingUp(0, 3, 20), 0);
}

TEST(ContactPlanTest, LatencyAndRateFromInterpolatedRange) {
  const ContactPlan plan = FourSatellites();
  EXPECT_NEAR(plan.RangeAt(3, 25), 1250, 1e-3);
  EXPECT_NEAR(*plan.LatencyAt(2, 3, 25), 1250 / kC, 1e-12);
  EXPECT_NEAR(*plan.LatencyAt(3, 2, 100), 2000 / kC, 1e-12);
  EXPECT_NEAR(*plan.RateAt(0, 1, 5), 100e9 / 9, 1);
  EXPECT_NEAR(*plan.RateAt(2, 3, 0), 100e9, 1);
  EXPECT_EQ(plan.LatencyAt(0, 3, 5).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(plan.RateAt(0, 3, 5).status().code(), absl::StatusCode::kNotFound);
}

TEST(ContactPlanTest, ShortestPathPrefersLowerLatency) {
  const ContactPlan plan = FourSatellites();
  std::optional<Path> p = plan.ShortestPath(0, 2, 10);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->satellites, (std::vector<int>{0, 1, 2}));  // 6000 km beats 9000 km direct
  EXPECT_NEAR(p->latency_s, 6000 / kC, 1e-12);
  EXPECT_NEAR(p->rate_bps, 100e9 / 9, 1);
  EXPECT_DOUBLE_EQ(p->remaining_up_s, 30);  // 1-2 goes down at 40
  // While 1-2 is blinded, the direct link is the way.
  p = plan.ShortestPath(0, 2, 50);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->satellites, (std::vector<int>{0, 2}));
  p = plan.ShortestPath(3, 0, 10);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->satellites, (std::vector<int>{3, 2, 1, 0}));
}

TEST(ContactPlanTest, ShortestPathNulloptWhenDisconnected) {
  const ContactPlan plan = FourSatellites();
  EXPECT_FALSE(plan.ShortestPath(0, 3, 50).has_value());  // 2-3 occluded
  EXPECT_FALSE(plan.ShortestPath(0, 7, 10).has_value());  // no such satellite
  std::optional<Path> self = plan.ShortestPath(2, 2, 10);
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->satellites, std::vector<int>{2});
  EXPECT_EQ(self->latency_s, 0);
}

TEST(ContactPlanTest, ShortestPathPrefersFewerHopsAtEqualLatency) {
  LinkPhysics physics;
  std::vector<Link> links = {
      MakeLink(0, 1, {{0, 100, LinkState::kUp}}, Constant(1000)),
      MakeLink(1, 2, {{0, 100, LinkState::kUp}}, Constant(1000)),
      MakeLink(0, 2, {{0, 100, LinkState::kUp}}, Constant(2000)),
  };
  const ContactPlan plan({"A", "B", "C"}, absl::UnixEpoch(), 100, 10, physics, false,
                         std::move(links));
  std::optional<Path> p = plan.ShortestPath(0, 2, 10);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->satellites, (std::vector<int>{0, 2}));
}

TEST(ContactPlanTest, ContactsWithLatencyAndRateExtremes) {
  const ContactPlan plan = FourSatellites();
  const std::vector<Contact> contacts = plan.Contacts();
  // 0-1 one merged contact, 1-2 two, 0-2 one, 2-3 one.
  ASSERT_EQ(contacts.size(), 5u);
  EXPECT_EQ(contacts[0].link, 0);
  EXPECT_EQ(contacts[0].start_s, 0);
  EXPECT_EQ(contacts[0].end_s, 100);
  EXPECT_EQ(contacts[1].link, 1);
  EXPECT_EQ(contacts[1].end_s, 40);
  EXPECT_EQ(contacts[2].start_s, 70);
  const Contact& c = contacts[4];
  EXPECT_EQ(c.link, 3);
  EXPECT_EQ(c.end_s, 30);
  EXPECT_NEAR(c.owlt_min_s, 1000 / kC, 1e-9);
  EXPECT_NEAR(c.owlt_max_s, 1300 / kC, 1e-9);
  EXPECT_NEAR(c.rate_max_bps, 100e9, 1);
  EXPECT_NEAR(c.rate_min_bps, 100e9 / (1.3 * 1.3), 1e3);
}

}  // namespace
}  // namespace crosslink::linkmodel
