#include "crosslink/linkmodel/contact_plan_builder.h"

#include <cmath>
#include <memory>
#include <vector>

#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/julian_date.h"
#include "crosslink/linkmodel/kepler_j2.h"
#include "crosslink/linkmodel/link_geometry.h"
#include "crosslink/linkmodel/sun.h"
#include "crosslink/linkmodel/walker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

const absl::Time kEpoch = absl::FromCivil(absl::CivilSecond(2025, 1, 23), absl::UTCTimeZone());

// A near-polar Walker delta whose plane 0 contains the Sun's direction at the epoch: its
// cross-plane links cross the polar cut-off and plane 0's in-plane links sweep past the Sun, so
// every kind of edge occurs within one orbit.
Constellation PolarShell() {
  const double i = 87 * kDegToRad;
  const Vec3 s = SunDirection(kEpoch);
  // Normal (sin i sin O, -sin i cos O, cos i) . s = 0  <=>  A sin(O - psi) = -cos i s.z / sin i.
  const double a = std::hypot(s.x, s.y), psi = std::atan2(s.y, s.x);
  const double raan = psi + std::asin(-std::cos(i) * s.z / std::sin(i) / a);
  return *MakeWalkerDelta({.planes = 6,
                           .sats_per_plane = 12,
                           .phasing = 1,
                           .altitude_km = 550,
                           .inclination_deg = 87,
                           .raan_offset_deg = raan * kRadToDeg},
                          kEpoch);
}

LinkPhysics Physics() {
  LinkPhysics p;
  p.grazing_altitude_km = 80;
  p.max_range_km = 5000;
  p.polar_cutoff_deg = 70;
  p.sun_exclusion_deg = 5;
  p.acquisition_s = 0;
  return p;
}

TimeConfig OneOrbit(double step_s = 1.0) {
  TimeConfig t;
  t.start = kEpoch;
  t.duration_s = 5730;
  t.step_s = step_s;
  return t;
}

// Geometry of a link evaluated directly, the reference the plan is checked against.
LinkState Direct(const Constellation& c, const Link& l, const LinkPhysics& p, double t) {
  const Vec3 a = c.satellites[l.a].propagator->StateAt(t)->position_km;
  const Vec3 b = c.satellites[l.b].propagator->StateAt(t)->position_km;
  const Vec3 sun = SunDirectionAtJulianDate(ToJulianDate(c.epoch) + t / kSecondsPerDay);
  return EvaluateLink(a, b, sun, p, l.cross_plane);
}

void ExpectWellFormed(const ContactPlan& plan) {
  for (const Link& l : plan.links()) {
    ASSERT_FALSE(l.segments.empty());
    EXPECT_EQ(l.segments.front().start_s, 0);
    EXPECT_EQ(l.segments.back().end_s, plan.duration_s());
    for (size_t i = 0; i < l.segments.size(); ++i) {
      EXPECT_LT(l.segments[i].start_s, l.segments[i].end_s);
      if (i > 0) {
        EXPECT_EQ(l.segments[i].start_s, l.segments[i - 1].end_s);
        EXPECT_NE(l.segments[i].state, l.segments[i - 1].state);
      }
    }
  }
}

TEST(ContactPlanBuilderTest, InPlaneNeighboursOfTheStarlinkShellAlwaysVisible) {
  absl::StatusOr<Constellation> c = MakeWalkerDelta(WalkerConfig{}, kEpoch);
  ASSERT_TRUE(c.ok());
  LinkPhysics p = Physics();
  p.sun_exclusion_deg = 0;  // the Sun may blind any link; here only the Earth matters
  absl::StatusOr<ContactPlan> plan = BuildContactPlan(*c, OneOrbit(10), p, {}, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExpectWellFormed(*plan);
  int in_plane = 0;
  for (const Link& l : plan->links()) {
    if (l.cross_plane) continue;
    ++in_plane;
    ASSERT_EQ(l.segments.size(), 1u);
    EXPECT_EQ(l.segments[0].state, LinkState::kUp);
  }
  EXPECT_EQ(in_plane, 1584);
}

TEST(ContactPlanBuilderTest, EdgesRefinedToTenMilliseconds) {
  const Constellation c = PolarShell();
  const LinkPhysics p = Physics();
  absl::StatusOr<ContactPlan> plan = BuildContactPlan(c, OneOrbit(1.0), p, {}, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExpectWellFormed(*plan);
  int edges = 0, polar = 0, sun = 0;
  for (const Link& l : plan->links()) {
    for (size_t i = 1; i < l.segments.size(); ++i) {
      const double t = l.segments[i].start_s;
      EXPECT_EQ(Direct(c, l, p, t - kEdgeToleranceS), l.segments[i - 1].state) << t;
      EXPECT_EQ(Direct(c, l, p, t + kEdgeToleranceS), l.segments[i].state) << t;
      ++edges;
      polar += l.segments[i].state == LinkState::kPolar;
      sun += l.segments[i].state == LinkState::kSun;
    }
  }
  EXPECT_GT(polar, 10);
  EXPECT_GT(sun, 0);
  // Against a reference sampled every 10 ms: same edges, each within 10 ms.
  int checked = 0;
  for (const Link& l : plan->links()) {
    if (!l.cross_plane || l.segments.size() < 3 || checked >= 3) continue;
    ++checked;
    std::vector<double> reference;
    LinkState prev = Direct(c, l, p, 0);
    for (int k = 1; k * 0.01 <= 5730; ++k) {
      const LinkState s = Direct(c, l, p, k * 0.01);
      if (s != prev) reference.push_back(k * 0.01 - 0.005);
      prev = s;
    }
    ASSERT_EQ(reference.size() + 1, l.segments.size());
    for (size_t i = 0; i < reference.size(); ++i) {
      EXPECT_NEAR(l.segments[i + 1].start_s, reference[i], kEdgeToleranceS);
    }
  }
  EXPECT_EQ(checked, 3);
  EXPECT_GT(edges, polar);
}

TEST(ContactPlanBuilderTest, AcquisitionFollowsEveryOutageButNotTheStart) {
  const Constellation c = PolarShell();
  LinkPhysics p = Physics();
  p.acquisition_s = 10;
  absl::StatusOr<ContactPlan> plan = BuildContactPlan(c, OneOrbit(), p, {}, false);
  ASSERT_TRUE(plan.ok());
  ExpectWellFormed(*plan);
  int acquisitions = 0;
  for (const Link& l : plan->links()) {
    EXPECT_NE(l.segments.front().state, LinkState::kAcquiring);
    for (size_t i = 1; i < l.segments.size(); ++i) {
      const Segment& s = l.segments[i];
      if (s.state == LinkState::kUp) {
        // Up-time after an outage always starts with acquisition.
        EXPECT_EQ(l.segments[i - 1].state, LinkState::kAcquiring);
      }
      if (s.state == LinkState::kAcquiring) {
        ++acquisitions;
        EXPECT_NE(l.segments[i - 1].state, LinkState::kUp);
        if (i + 1 < l.segments.size() && l.segments[i + 1].state == LinkState::kUp) {
          EXPECT_NEAR(s.end_s - s.start_s, 10.0, 1e-9);
        }
      }
    }
  }
  EXPECT_GT(acquisitions, 10);
  // A geometry-only plan and the same plan with acquisition agree outside acquisition.
  LinkPhysics no_acq = p;
  no_acq.acquisition_s = 0;
  absl::StatusOr<ContactPlan> raw = BuildContactPlan(c, OneOrbit(), no_acq, {}, false);
  ASSERT_TRUE(raw.ok());
  for (size_t li = 0; li < plan->links().size(); ++li) {
    const Link& l = plan->links()[li];
    for (double t = 0.5; t < 5730; t += 7.3) {
      const LinkState with = plan->StateAt(l.a, l.b, t);
      const LinkState without = raw->StateAt(l.a, l.b, t);
      if (with != LinkState::kAcquiring) EXPECT_EQ(with, without) << t;
      if (with == LinkState::kAcquiring) EXPECT_EQ(without, LinkState::kUp) << t;
    }
  }
}

TEST(ContactPlanBuilderTest, FaultsOnlyInTheTruePlanAndFollowedByAcquisition) {
  const Constellation c = PolarShell();
  LinkPhysics p = Physics();
  p.acquisition_s = 5;
  const FaultConfig faults{.seed = 9,
                           .link_mtbf_s = 2000,
                           .link_mttr_s = 60,
                           .satellite_mtbf_s = 20000,
                           .satellite_mttr_s = 120};
  absl::StatusOr<ContactPlan> truth = BuildContactPlan(c, OneOrbit(), p, faults, true);
  absl::StatusOr<ContactPlan> predicted = BuildContactPlan(c, OneOrbit(), p, faults, false);
  ASSERT_TRUE(truth.ok() && predicted.ok());
  EXPECT_TRUE(truth->includes_faults());
  EXPECT_FALSE(predicted->includes_faults());
  ExpectWellFormed(*truth);
  int fault_segments = 0;
  for (size_t li = 0; li < truth->links().size(); ++li) {
    const Link& l = truth->links()[li];
    for (const Segment& s : predicted->links()[li].segments) {
      EXPECT_NE(s.state, LinkState::kFault);
    }
    for (size_t i = 0; i < l.segments.size(); ++i) {
      if (l.segments[i].state != LinkState::kFault) continue;
      ++fault_segments;
      if (i + 1 < l.segments.size()) {
        EXPECT_NE(l.segments[i + 1].state, LinkState::kUp) << "no acquisition after a fault";
      }
    }
  }
  EXPECT_GT(fault_segments, 20);
}

TEST(ContactPlanBuilderTest, SameResultForAnyThreadCount) {
  const Constellation c = PolarShell();
  LinkPhysics p = Physics();
  p.acquisition_s = 10;
  const FaultConfig faults{.seed = 5, .link_mtbf_s = 1000, .link_mttr_s = 30};
  absl::StatusOr<ContactPlan> one = BuildContactPlan(c, OneOrbit(), p, faults, true, 1);
  absl::StatusOr<ContactPlan> three = BuildContactPlan(c, OneOrbit(), p, faults, true, 3);
  ASSERT_TRUE(one.ok() && three.ok());
  ASSERT_EQ(one->links().size(), three->links().size());
  for (size_t i = 0; i < one->links().size(); ++i) {
    const Link& x = one->links()[i];
    const Link& y = three->links()[i];
    ASSERT_EQ(x.segments.size(), y.segments.size()) << i;
    for (size_t j = 0; j < x.segments.size(); ++j) {
      EXPECT_EQ(x.segments[j].start_s, y.segments[j].start_s);
      EXPECT_EQ(x.segments[j].end_s, y.segments[j].end_s);
      EXPECT_EQ(x.segments[j].state, y.segments[j].state);
    }
    EXPECT_EQ(x.range_km, y.range_km);
  }
}

TEST(ContactPlanBuilderTest, RangeSamplesMatchTheGeometry) {
  const Constellation c = PolarShell();
  TimeConfig time = OneOrbit();
  time.duration_s = 995.5;  // not a whole number of range steps
  absl::StatusOr<ContactPlan> plan = BuildContactPlan(c, time, Physics(), {}, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->range_sample_step_s(), 10.0);
  EXPECT_EQ(RangeSampleStepS(0.5), 10.0);
  EXPECT_EQ(RangeSampleStepS(3.0), 9.0);
  EXPECT_EQ(RangeSampleStepS(30.0), 30.0);
  for (int li = 0; li < static_cast<int>(plan->links().size()); li += 5) {
    const Link& l = plan->links()[li];
    EXPECT_EQ(l.range_km.size(), 101u);  // 0, 10, ..., 990 and 995.5
    for (double t : {0.0, 3.3, 500.0, 777.7, 995.5}) {
      const double truth = Norm(c.satellites[l.b].propagator->StateAt(t)->position_km -
                                c.satellites[l.a].propagator->StateAt(t)->position_km);
      // Exact (to float precision) at the samples; linear in between, which near a cross-plane
      // pair's closest approach over the pole is off by well under 0.2% (microseconds of latency).
      const bool sample = std::fmod(t, 10.0) == 0.0 || t == 995.5;
      EXPECT_NEAR(plan->RangeAt(li, t), truth, sample ? 1e-3 + 1e-7 * truth : 0.002 * truth) << t;
    }
  }
}

class FailingPropagator : public Propagator {
 public:
  absl::StatusOr<StateVector> StateAt(double t_s) const override {
    if (t_s > 100) return absl::OutOfRangeError("orbit decayed");
    return inner_.StateAt(t_s);
  }

 private:
  KeplerJ2Propagator inner_{CircularOrbit{.altitude_km = 550, .arg_latitude_deg = 1}};
};

TEST(ContactPlanBuilderTest, PropagatorFailureNamesSatelliteAndTime) {
  Constellation c;
  c.epoch = kEpoch;
  c.satellites.push_back(
      {.name = "GOOD", .propagator = std::make_shared<KeplerJ2Propagator>(CircularOrbit{})});
  c.satellites.push_back({.name = "DECAYED", .propagator = std::make_shared<FailingPropagator>()});
  LinkPhysics p = Physics();
  p.topology = Topology::kNearestK;
  p.terminals = 1;
  absl::StatusOr<ContactPlan> plan = BuildContactPlan(c, OneOrbit(), p, {}, false);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(plan.status().message(), testing::HasSubstr("DECAYED"));
}

// A job's setup deadline bounds plan building: the Starlink shell over a day at one-second steps
// takes far longer than 50 ms, so the build stops soon after the deadline with kDeadlineExceeded
// on every thread count, and a generous deadline changes nothing in the plan.
TEST(ContactPlanBuilderTest, StopsAtTheDeadline) {
  absl::StatusOr<Constellation> c = MakeWalkerDelta(WalkerConfig{}, kEpoch);
  ASSERT_TRUE(c.ok()) << c.status();
  TimeConfig day = OneOrbit(1.0);
  day.duration_s = 86400;
  for (int threads : {1, 2}) {
    const absl::Time start = absl::Now();
    const absl::Status s =
        BuildContactPlan(*c, day, Physics(), {}, false, threads, start + absl::Milliseconds(50))
            .status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_THAT(s.message(), testing::HasSubstr("orbit time"));
    // Loose: the bound is a few samples past the deadline, far below the build's full minutes.
    EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << threads << " threads";
  }
  const Constellation polar = PolarShell();
  absl::StatusOr<ContactPlan> bounded =
      BuildContactPlan(polar, OneOrbit(10), Physics(), {}, false, 2, absl::Now() + absl::Hours(1));
  absl::StatusOr<ContactPlan> unbounded =
      BuildContactPlan(polar, OneOrbit(10), Physics(), {}, false, 2);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  ASSERT_TRUE(unbounded.ok()) << unbounded.status();
  ASSERT_EQ(bounded->links().size(), unbounded->links().size());
  for (size_t i = 0; i < bounded->links().size(); ++i) {
    EXPECT_EQ(bounded->links()[i].segments.size(), unbounded->links()[i].segments.size()) << i;
  }
}

TEST(ContactPlanBuilderTest, RejectsBadTime) {
  const Constellation c = PolarShell();
  TimeConfig time = OneOrbit();
  time.duration_s = 0;
  EXPECT_EQ(BuildContactPlan(c, time, Physics(), {}, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  time = OneOrbit();
  time.step_s = -1;
  EXPECT_EQ(BuildContactPlan(c, time, Physics(), {}, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The 1e9-sample cap ignored the links: 1e7 samples are allowed, but 1e7 range samples over the
// shell's links would be > 1e9 floats. Rejected before anything is allocated or propagated.
TEST(ContactPlanBuilderTest, RejectsMoreRangeSamplesThanTheCapOverAllLinks) {
  const Constellation c = PolarShell();
  TimeConfig time = OneOrbit(10.0);
  time.duration_s = 1e8;
  const absl::Status s = BuildContactPlan(c, time, Physics(), {}, false).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), testing::HasSubstr("time.duration_s"));
  EXPECT_THAT(s.message(), testing::HasSubstr("links"));
}

}  // namespace
}  // namespace crosslink::linkmodel
