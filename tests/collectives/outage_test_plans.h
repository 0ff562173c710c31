// Hand-made contact plans for the contact-aware planner and simulator tests: small enough that
// every expected time can be worked out on paper. Rates are flat (no range dependence) so a
// transfer of L bytes takes exactly L*8/rate plus the light time of the link's range.
#ifndef CROSSLINK_TESTS_COLLECTIVES_OUTAGE_TEST_PLANS_H_
#define CROSSLINK_TESTS_COLLECTIVES_OUTAGE_TEST_PLANS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives::testing {

inline constexpr double kTestRateBps = 8e9;
inline constexpr double kTestWindowS = 200.0;
inline constexpr double kTestSampleStepS = 10.0;

// One link of a test plan: satellites a < b at a constant range, with its segments.
inline linkmodel::Link TestLink(int a, int b, float range_km,
                                std::vector<linkmodel::Segment> segments = {}) {
  if (segments.empty()) segments = {{0, kTestWindowS, linkmodel::LinkState::kUp}};
  const int samples = static_cast<int>(kTestWindowS / kTestSampleStepS) + 1;
  return linkmodel::Link{a, b, false, std::move(segments), std::vector<float>(samples, range_km)};
}

inline linkmodel::ContactPlan TestPlan(int satellites, std::vector<linkmodel::Link> links,
                                       bool includes_faults) {
  linkmodel::LinkPhysics physics;
  physics.rate_bps = kTestRateBps;
  physics.rate_reference_range_km = 0.0;  // flat rate
  std::vector<std::string> names;
  for (int i = 0; i < satellites; ++i) names.push_back("S" + std::to_string(i));
  return linkmodel::ContactPlan(std::move(names), absl::FromUnixSeconds(1737590400), kTestWindowS,
                                kTestSampleStepS, physics, includes_faults, std::move(links));
}

// Four satellites, every pair linked (K4): the sides 0-1, 1-2, 2-3, 3-0 at 3000 km, the diagonals
// 0-2, 1-3 at 4000 km. The rank-order ring 0-1-2-3 uses only sides; the only ring avoiding side
// 1-2 is 0-1-3-2.
//   prediction: side 1-2 occluded from t = 0.03 s for 100 s (then 10 s re-acquiring).
//   truth:      the same, plus a surprise fault on diagonal 1-3 during [0, 5) s.
inline constexpr double kSideDropS = 0.03;
inline constexpr double kSideOutageS = 100.0;
inline constexpr double kDiagonalFaultS = 5.0;

inline linkmodel::ContactPlan K4Plan(bool truth) {
  using S = linkmodel::LinkState;
  std::vector<linkmodel::Link> links;
  links.push_back(TestLink(0, 1, 3000));
  links.push_back(
      TestLink(1, 2, 3000,
               {{0, kSideDropS, S::kUp},
                {kSideDropS, kSideDropS + kSideOutageS - 10, S::kOccluded},
                {kSideDropS + kSideOutageS - 10, kSideDropS + kSideOutageS, S::kAcquiring},
                {kSideDropS + kSideOutageS, kTestWindowS, S::kUp}}));
  links.push_back(TestLink(2, 3, 3000));
  links.push_back(TestLink(0, 3, 3000));
  links.push_back(TestLink(0, 2, 4000));
  if (truth) {
    links.push_back(TestLink(
        1, 3, 4000, {{0, kDiagonalFaultS, S::kFault}, {kDiagonalFaultS, kTestWindowS, S::kUp}}));
  } else {
    links.push_back(TestLink(1, 3, 4000));
  }
  return TestPlan(4, std::move(links), truth);
}

}  // namespace crosslink::collectives::testing

#endif  // CROSSLINK_TESTS_COLLECTIVES_OUTAGE_TEST_PLANS_H_
