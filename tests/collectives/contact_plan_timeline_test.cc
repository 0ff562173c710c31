// ContactPlanTimeline over hand-built contact plans: a direct link follows its segments, a pair
// without one follows the least-latency route.
#include "crosslink/collectives/emulation/contact_plan_timeline.h"

#include <limits>

#include "absl/time/clock.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/transport/inproc_transport.h"
#include "crosslink/linkmodel/link_geometry.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using linkmodel::LinkState;

// Satellites 0-1 (3000 km: up, occluded 100-130 s, acquiring 130-140 s, up) and 1-2 (1500 km,
// always up); no candidate link 0-2.
std::shared_ptr<const linkmodel::ContactPlan> ThreeSatellitePlan() {
  linkmodel::LinkPhysics physics;
  physics.rate_bps = 10e9;
  physics.rate_reference_range_km = 1000;  // rate falls with range: the hops differ
  linkmodel::Link l01{0,
                      1,
                      false,
                      {{0, 100, LinkState::kUp},
                       {100, 130, LinkState::kOccluded},
                       {130, 140, LinkState::kAcquiring},
                       {140, 300, LinkState::kUp}},
                      {3000, 3000, 3000, 3000}};
  linkmodel::Link l12{1, 2, true, {{0, 300, LinkState::kUp}}, {1500, 1500, 1500, 1500}};
  return std::make_shared<linkmodel::ContactPlan>(
      std::vector<std::string>{"sat-0", "sat-1", "sat-2"}, absl::UnixEpoch(), 300.0, 100.0, physics,
      false, std::vector<linkmodel::Link>{l01, l12});
}

TEST(ContactPlanTimelineTest, DirectLinkFollowsItsSegments) {
  auto plan = ThreeSatellitePlan();
  auto tl = ContactPlanTimeline::Create(plan, 0, 1);
  ASSERT_TRUE(tl.ok()) << tl.status();
  EXPECT_TRUE(tl->direct());

  LinkWindow w = tl->At(50);
  EXPECT_TRUE(w.up);
  EXPECT_DOUBLE_EQ(w.latency_s, linkmodel::LightTimeS(3000));
  EXPECT_DOUBLE_EQ(w.rate_bps, linkmodel::RateAtRange(plan->physics(), 3000));
  EXPECT_DOUBLE_EQ(w.until_s, 100);

  // Occlusion and the re-acquisition after it form one outage.
  w = tl->At(110);
  EXPECT_FALSE(w.up);
  EXPECT_EQ(w.state, "occluded");
  EXPECT_DOUBLE_EQ(w.until_s, 140);
  w = tl->At(135);
  EXPECT_FALSE(w.up);
  EXPECT_EQ(w.state, "acquiring");
  EXPECT_DOUBLE_EQ(w.until_s, 140);

  w = tl->At(200);
  EXPECT_TRUE(w.up);
  EXPECT_EQ(w.until_s, std::numeric_limits<double>::infinity());
  // Either order of the pair is the same link.
  EXPECT_TRUE(ContactPlanTimeline::Create(plan, 1, 0)->At(50).up);
}

TEST(ContactPlanTimelineTest, PairWithoutALinkUsesTheShortestPath) {
  auto plan = ThreeSatellitePlan();
  auto tl = ContactPlanTimeline::Create(plan, 0, 2);
  ASSERT_TRUE(tl.ok()) << tl.status();
  EXPECT_FALSE(tl->direct());

  LinkWindow w = tl->At(50);
  ASSERT_TRUE(w.up);
  EXPECT_NEAR(w.latency_s, linkmodel::LightTimeS(3000) + linkmodel::LightTimeS(1500), 1e-12);
  // The narrowest hop is the longer one.
  EXPECT_DOUBLE_EQ(w.rate_bps, linkmodel::RateAtRange(plan->physics(), 3000));
  EXPECT_LE(w.until_s, 100);  // the route breaks when hop 0-1 goes down
  EXPECT_GT(w.until_s, 50);

  w = tl->At(110);
  EXPECT_FALSE(w.up);
  EXPECT_EQ(w.state, "no path");
  // Walking the windows from there reaches the route's return at 140 s exactly.
  double t = 110;
  for (int i = 0; i < 10 && !w.up; ++i) {
    ASSERT_GT(w.until_s, t);
    t = w.until_s;
    w = tl->At(t);
  }
  EXPECT_TRUE(w.up);
  EXPECT_DOUBLE_EQ(t, 140);
}

TEST(ContactPlanTimelineTest, RejectsBadSatellites) {
  auto plan = ThreeSatellitePlan();
  EXPECT_EQ(ContactPlanTimeline::Create(plan, 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ContactPlanTimeline::Create(plan, 0, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ContactPlanTimeline::Create(nullptr, 0, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ContactPlanTimelineTest, EmulatorHoldsAcrossThePlannedOutageAndAcquisition) {
  // Start at orbit 95 s at 1000 orbit s per wall s: down at 100 s (5 ms wall), back at 140 s
  // (45 ms wall).
  auto tl = ContactPlanTimeline::Create(ThreeSatellitePlan(), 0, 1);
  ASSERT_TRUE(tl.ok());
  auto timeline = std::make_shared<ContactPlanTimeline>(*std::move(tl));
  auto [a, b] = MakeInProcPair(0, 1, 1);
  auto clock = std::make_shared<ScenarioClock>(95.0, 1000.0);
  LinkEmulator emulated(std::move(a), timeline, clock);
  std::vector<std::byte> out(64), in(64);
  auto r = b->Recv(absl::MakeSpan(in));
  // Wait for the outage to begin (no sleep: the clock says when).
  while (clock->OrbitNow() < 101) {
  }
  emulated.Send(FrameHeader{}, out);
  ASSERT_TRUE(r->Wait(absl::Now() + absl::Seconds(5)).ok());
  EXPECT_GE(clock->OrbitNow(), 140.0);
  EXPECT_EQ(emulated.counters().outages_met, 1);
}

}  // namespace
}  // namespace crosslink::collectives
