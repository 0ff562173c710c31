// The summary's numbers against the hand-made plan (hand_made_plan.h), worked out by hand.
#include "crosslink/linkmodel/contact_plan_summary.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hand_made_plan.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::HasSubstr;

TEST(ContactPlanSummaryTest, NumbersOfHandMadePlan) {
  const ContactPlanSummary s = SummarizeContactPlan(testing::HandMadePlan());
  EXPECT_EQ(s.num_satellites, 3);
  EXPECT_EQ(s.num_links, 3);
  EXPECT_EQ(s.num_cross_plane_links, 1);
  EXPECT_EQ(s.duration_s, 100.0);
  EXPECT_TRUE(s.includes_faults);
  // Up: 10.5 + 49.75 (link 0) + 100 (link 1) + 0.4 + 39 (link 2) = 199.65 of 300 link-seconds.
  EXPECT_NEAR(s.up_fraction, 199.65 / 300.0, 1e-12);
  EXPECT_EQ(s.num_contacts, 5);
  EXPECT_NEAR(s.mean_contacts_per_link, 5.0 / 3.0, 1e-12);

  auto outage = [&](LinkState state) { return s.outages[static_cast<int>(state)]; };
  EXPECT_EQ(outage(LinkState::kUp).count, 0);
  EXPECT_EQ(outage(LinkState::kOccluded).count, 1);
  EXPECT_NEAR(outage(LinkState::kOccluded).total_s, 29.5, 1e-12);
  EXPECT_EQ(outage(LinkState::kRange).count, 0);
  EXPECT_EQ(outage(LinkState::kPolar).count, 1);
  EXPECT_NEAR(outage(LinkState::kPolar).total_s, 30.0, 1e-12);
  EXPECT_NEAR(outage(LinkState::kSun).total_s, 29.6, 1e-12);
  EXPECT_NEAR(outage(LinkState::kAcquiring).total_s, 10.25, 1e-12);
  EXPECT_EQ(outage(LinkState::kFault).count, 1);
  EXPECT_NEAR(outage(LinkState::kFault).total_s, 1.0, 1e-12);

  ASSERT_TRUE(s.longest_outage.has_value());
  EXPECT_EQ(s.longest_outage->link, 2);
  EXPECT_EQ(s.longest_outage->sat_a, "A");
  EXPECT_EQ(s.longest_outage->sat_b, "C 3");
  EXPECT_EQ(s.longest_outage->cause, LinkState::kPolar);
  EXPECT_EQ(s.longest_outage->start_s, 0.0);
  EXPECT_EQ(s.longest_outage->duration_s, 30.0);
}

TEST(ContactPlanSummaryTest, AlwaysUpPlanHasNoLongestOutage) {
  std::vector<Link> links = {{0, 1, false, {{0, 50, LinkState::kUp}}, std::vector<float>(6, 10)}};
  const ContactPlan plan({"X", "Y"}, absl::UnixEpoch(), 50.0, 10.0, LinkPhysics{}, false,
                         std::move(links));
  const ContactPlanSummary s = SummarizeContactPlan(plan);
  EXPECT_EQ(s.up_fraction, 1.0);
  EXPECT_FALSE(s.longest_outage.has_value());
  EXPECT_THAT(FormatContactPlanSummary(s, "t"), HasSubstr("none"));
}

TEST(ContactPlanSummaryTest, TextNamesTheNumbers) {
  const std::string text =
      FormatContactPlanSummary(SummarizeContactPlan(testing::HandMadePlan()), "True plan");
  EXPECT_THAT(text, HasSubstr("True plan"));
  EXPECT_THAT(text, HasSubstr("66.55 %"));
  EXPECT_THAT(text, HasSubstr("A-C 3, polar, 30.0 s"));
  for (const char* cause : {"occluded", "range", "polar", "sun", "acquiring", "fault"}) {
    EXPECT_THAT(text, HasSubstr(cause));
  }
}

}  // namespace
}  // namespace crosslink::linkmodel
