// Scenario -> constellation -> plans: every shipped scenario builds, with the physics its comments
// promise; TLE selection by name, NORAD id, inclination band and first_n; missing satellites are
// kNotFound naming them.
#include "crosslink/linkmodel/scenario_builder.h"

#include <cmath>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "crosslink/linkmodel/contact_plan_summary.h"
#include "crosslink/linkmodel/scenario.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kScenarios =
    std::filesystem::path(CROSSLINK_SOURCE_DIR) / "bench" / "scenarios";

Scenario Load(const std::string& name) {
  absl::StatusOr<Scenario> s = LoadScenario(kScenarios / (name + ".toml"));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Scenario{};
}

double OutageSeconds(const ContactPlan& plan, LinkState state) {
  return SummarizeContactPlan(plan).outages[static_cast<int>(state)].total_s;
}

// Builds both plans and checks what every scenario must give: ranks on 8 distinct satellites,
// neighbouring ranks joined by a candidate link, the same candidates in both plans, faults only
// in the true one.
ScenarioPlans BuildAndCheck(const Scenario& scenario) {
  absl::StatusOr<ScenarioPlans> plans = BuildScenarioPlans(scenario);
  EXPECT_TRUE(plans.ok()) << scenario.name << ": " << plans.status();
  if (!plans.ok()) return {};
  absl::StatusOr<std::vector<int>> ranks = ResolveRankSatellites(scenario, plans->constellation);
  EXPECT_TRUE(ranks.ok()) << ranks.status();
  EXPECT_EQ(ranks->size(), 8u) << scenario.name;
  for (size_t r = 0; r + 1 < ranks->size(); ++r) {
    EXPECT_TRUE(plans->predicted.FindLink((*ranks)[r], (*ranks)[r + 1]).has_value())
        << scenario.name << ": ranks " << r << " and " << r + 1 << " share no candidate link";
  }
  EXPECT_FALSE(plans->predicted.includes_faults());
  EXPECT_TRUE(plans->truth.includes_faults());
  EXPECT_EQ(plans->predicted.links().size(), plans->truth.links().size());
  EXPECT_GT(plans->predicted.links().size(), 0u);
  EXPECT_EQ(OutageSeconds(plans->predicted, LinkState::kFault), 0.0);
  return *std::move(plans);
}

TEST(ScenarioBuilderTest, StarlinkShell1) {
  Scenario s = Load("starlink-shell1");
  s.time.duration_s = 1200;  // a fifth of the orbit keeps the test quick
  const ScenarioPlans plans = BuildAndCheck(s);
  EXPECT_EQ(plans.constellation.satellites.size(), 1584u);
  EXPECT_EQ(plans.predicted.links().size(), 3168u);  // plus grid: 2 links per satellite
  EXPECT_GT(OutageSeconds(plans.predicted, LinkState::kPolar), 0.0);
  EXPECT_GT(OutageSeconds(plans.truth, LinkState::kFault), 0.0);
}

TEST(ScenarioBuilderTest, SuncatcherSunBlindsSomeLinks) {
  const ScenarioPlans plans = BuildAndCheck(Load("suncatcher"));
  EXPECT_EQ(plans.constellation.satellites.size(), 81u);
  const ContactPlanSummary summary = SummarizeContactPlan(plans.predicted);
  EXPECT_GT(summary.outages[static_cast<int>(LinkState::kSun)].count, 0);
  EXPECT_GT(summary.up_fraction, 0.5) << "the Sun must blind some links, not all";
}

TEST(ScenarioBuilderTest, TwoClustersMeetPartOfEachOrbit) {
  const ScenarioPlans plans = BuildAndCheck(Load("two-clusters"));
  EXPECT_EQ(plans.constellation.satellites.size(), 14u);
  int cross_links_with_contact_and_outage = 0;
  for (const Link& link : plans.predicted.links()) {
    if (!link.cross_plane) continue;
    bool up = false, range = false;
    for (const Segment& s : link.segments) {
      up |= s.state == LinkState::kUp;
      range |= s.state == LinkState::kRange;
    }
    if (up && range) ++cross_links_with_contact_and_outage;
  }
  EXPECT_GT(cross_links_with_contact_and_outage, 0);
}

TEST(ScenarioBuilderTest, StarlinkTle) {
  Scenario s = Load("starlink-tle");
  s.time.duration_s = 1200;
  const ScenarioPlans plans = BuildAndCheck(s);
  EXPECT_EQ(plans.constellation.satellites.size(), 300u);
  for (const Satellite& sat : plans.constellation.satellites) {
    EXPECT_GT(sat.norad_id, 0);
  }
}

// A TLE scenario over the shipped Starlink file with the given [constellation] extras.
absl::StatusOr<Constellation> BuildTle(const std::string& extra) {
  const std::string text = "[constellation]\ntype = \"tle\"\nfile = \"tle/starlink.txt\"\n" + extra;
  absl::StatusOr<Scenario> s = ParseScenario(text, "tle-test", kScenarios);
  if (!s.ok()) return s.status();
  return BuildConstellation(*s);
}

std::vector<std::string> Names(const Constellation& c) {
  std::vector<std::string> names;
  for (const Satellite& s : c.satellites) names.push_back(s.name);
  return names;
}

TEST(ScenarioBuilderTest, TleSelectionByNameAndNoradId) {
  // STARLINK-1008 is NORAD 44714, STARLINK-1009 is 44715 (the first two sets of the file).
  absl::StatusOr<Constellation> c = BuildTle("satellites = [44715, \"STARLINK-1008\"]\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(Names(*c), ElementsAre("STARLINK-1009", "STARLINK-1008"));
  EXPECT_EQ(c->satellites[0].norad_id, 44715);
  // Every satellite is propagated to the common start, which is the constellation's epoch.
  EXPECT_EQ(c->epoch, Scenario{}.time.start);
  EXPECT_TRUE(c->satellites[0].propagator->StateAt(0).ok());
}

TEST(ScenarioBuilderTest, TleSelectionByInclinationAndFirstN) {
  absl::StatusOr<Constellation> c =
      BuildTle("inclination_min_deg = 69.9\ninclination_max_deg = 70.1\nfirst_n = 25\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->satellites.size(), 25u);
  for (const Satellite& s : c->satellites) {
    absl::StatusOr<StateVector> state = s.propagator->StateAt(0);
    ASSERT_TRUE(state.ok());
    // Orbit normal r x v: its angle to the pole is the inclination.
    const Vec3& r = state->position_km;
    const Vec3& v = state->velocity_km_s;
    const double hx = r.y * v.z - r.z * v.y, hy = r.z * v.x - r.x * v.z, hz = r.x * v.y - r.y * v.x;
    const double inclination_deg =
        std::acos(hz / std::sqrt(hx * hx + hy * hy + hz * hz)) * 180 / M_PI;
    EXPECT_NEAR(inclination_deg, 70.0, 0.3) << s.name;
  }
}

TEST(ScenarioBuilderTest, UnknownTleSatelliteIsNotFound) {
  absl::StatusOr<Constellation> c = BuildTle("satellites = [\"STARLINK-1008\", \"SPUTNIK-1\"]\n");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("SPUTNIK-1"));
}

TEST(ScenarioBuilderTest, EmptyTleSelectionIsInvalid) {
  absl::StatusOr<Constellation> c =
      BuildTle("inclination_min_deg = 10\ninclination_max_deg = 11\n");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ScenarioBuilderTest, MissingRankSatelliteIsNotFound) {
  Scenario s = Load("two-clusters");
  s.cluster.rank_satellites = {"C0S0", "C9S9"};
  absl::StatusOr<Constellation> c = BuildConstellation(s);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<std::vector<int>> ranks = ResolveRankSatellites(s, *c);
  EXPECT_EQ(ranks.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(ranks.status().message()), HasSubstr("C9S9"));
  EXPECT_THAT(std::string(ranks.status().message()), HasSubstr("rank 1"));
}

TEST(ScenarioBuilderTest, RankSatellitesResolveByNameInOrder) {
  Scenario s = Load("two-clusters");
  s.cluster.rank_satellites = {"C1S0", "C0S2"};
  absl::StatusOr<Constellation> c = BuildConstellation(s);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<std::vector<int>> ranks = ResolveRankSatellites(s, *c);
  ASSERT_TRUE(ranks.ok()) << ranks.status();
  ASSERT_EQ(ranks->size(), 2u);
  EXPECT_EQ(c->satellites[(*ranks)[0]].name, "C1S0");
  EXPECT_EQ(c->satellites[(*ranks)[1]].name, "C0S2");
}

}  // namespace
}  // namespace crosslink::linkmodel
