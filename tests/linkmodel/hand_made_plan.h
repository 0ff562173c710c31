// A small contact plan written out by hand, so that export and summary tests can check exact
// numbers without running the orbit machinery. Three satellites, three links, 100 s window:
//   link 0  A-"B,2"    up [0,10.5) occluded [10.5,40) acquiring [40,50.25) up [50.25,100)
//                      range 1000 km at t=0 rising by 100 km per 10 s sample to 2000 km
//   link 1  "B,2"-C 3  up [0,100), range 3000 km throughout
//   link 2  A-C 3      cross-plane: polar [0,30) up [30,30.4) sun [30.4,60) fault [60,61)
//                      up [61,100), range 1500 km throughout
// Physics: 8 Gbit/s up to 1000 km, falling with the square of range beyond.
#ifndef CROSSLINK_TESTS_LINKMODEL_HAND_MADE_PLAN_H_
#define CROSSLINK_TESTS_LINKMODEL_HAND_MADE_PLAN_H_

#include <vector>

#include "absl/time/time.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::linkmodel::testing {

inline ContactPlan HandMadePlan() {
  LinkPhysics physics;
  physics.rate_bps = 8e9;
  physics.rate_reference_range_km = 1000.0;
  using S = LinkState;
  std::vector<Link> links(3);
  links[0] = {0,
              1,
              false,
              {{0, 10.5, S::kUp},
               {10.5, 40, S::kOccluded},
               {40, 50.25, S::kAcquiring},
               {50.25, 100, S::kUp}},
              {}};
  for (int i = 0; i <= 10; ++i) links[0].range_km.push_back(1000.0f + 100.0f * i);
  links[1] = {1, 2, false, {{0, 100, S::kUp}}, std::vector<float>(11, 3000.0f)};
  links[2] = {0,
              2,
              true,
              {{0, 30, S::kPolar},
               {30, 30.4, S::kUp},
               {30.4, 60, S::kSun},
               {60, 61, S::kFault},
               {61, 100, S::kUp}},
              std::vector<float>(11, 1500.0f)};
  return ContactPlan({"A", "B,2", "C 3"}, absl::FromUnixSeconds(1737590400), 100.0, 10.0, physics,
                     /*includes_faults=*/true, std::move(links));
}

}  // namespace crosslink::linkmodel::testing

#endif  // CROSSLINK_TESTS_LINKMODEL_HAND_MADE_PLAN_H_
