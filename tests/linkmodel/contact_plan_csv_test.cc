// CSV exports: exact, parseable values in a fixed layout, and determinism end to end: the same
// scenario and seed give byte-identical files, another seed gives other faults.
#include "crosslink/linkmodel/contact_plan_csv.h"

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hand_made_plan.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_EQ(lines.back(), "") << "text must end in a newline";
  lines.pop_back();
  return lines;
}

// Splits one CSV line, honouring double quotes ("" inside quotes is a quote).
std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

TEST(ContactPlanCsvTest, OneRowPerContactWithExactValues) {
  const ContactPlan plan = testing::HandMadePlan();
  const std::vector<std::string> lines = Lines(ContactPlanCsv(plan));
  const std::vector<Contact> contacts = plan.Contacts();
  ASSERT_EQ(lines.size(), contacts.size() + 1);
  EXPECT_EQ(lines[0],
            "sat_a,sat_b,start_s,end_s,owlt_min_s,owlt_max_s,rate_min_bps,rate_max_bps,"
            "cross_plane");
  // A name with a comma is quoted; the numbers read back as the exact doubles of the plan.
  EXPECT_THAT(lines[1], StartsWith("A,\"B,2\",0,10.5,"));
  for (size_t i = 0; i < contacts.size(); ++i) {
    const std::vector<std::string> all = SplitCsvLine(lines[i + 1]);
    ASSERT_EQ(all.size(), 9u) << lines[i + 1];
    EXPECT_EQ(all[0], plan.satellite_names()[plan.links()[contacts[i].link].a]);
    EXPECT_EQ(all[1], plan.satellite_names()[plan.links()[contacts[i].link].b]);
    const std::vector<std::string> fields(all.begin() + 2, all.end());
    const Contact& c = contacts[i];
    EXPECT_EQ(std::strtod(fields[0].c_str(), nullptr), c.start_s);
    EXPECT_EQ(std::strtod(fields[1].c_str(), nullptr), c.end_s);
    EXPECT_EQ(std::strtod(fields[2].c_str(), nullptr), c.owlt_min_s);
    EXPECT_EQ(std::strtod(fields[3].c_str(), nullptr), c.owlt_max_s);
    EXPECT_EQ(std::strtod(fields[4].c_str(), nullptr), c.rate_min_bps);
    EXPECT_EQ(std::strtod(fields[5].c_str(), nullptr), c.rate_max_bps);
    EXPECT_EQ(fields[6], plan.links()[c.link].cross_plane ? "1" : "0");
  }
}

TEST(ContactPlanCsvTest, OutagesListEveryDownSegmentWithItsCause) {
  const std::vector<std::string> lines = Lines(OutageCsv(testing::HandMadePlan()));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "sat_a,sat_b,start_s,end_s,cause");
  EXPECT_EQ(lines[1], "A,\"B,2\",10.5,40,occluded");
  EXPECT_EQ(lines[2], "A,\"B,2\",40,50.25,acquiring");
  EXPECT_EQ(lines[3], "A,C 3,0,30,polar");
  EXPECT_EQ(lines[4], "A,C 3,30.399999999999999,60,sun");
  EXPECT_EQ(lines[5], "A,C 3,60,61,fault");
}

TEST(ContactPlanCsvTest, WriteToMissingFolderNamesThePath) {
  absl::Status status = WriteContactPlanCsv(testing::HandMadePlan(), "/nonexistent/dir/x.csv");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent/dir/x.csv"));
}

// A small Walker shell with frequent faults, so a seed visibly matters within 20 minutes.
constexpr char kFaultyShell[] = R"(
[time]
duration_s = 1200
step_s = 2
[constellation]
planes = 12
sats_per_plane = 20
phasing = 1
altitude_km = 550
inclination_deg = 53
[links]
polar_cutoff_deg = 45
sun_exclusion_deg = 5
acquisition_s = 10
[faults]
seed = SEED
link_mtbf_s = 3000
link_mttr_s = 60
satellite_mtbf_s = 20000
satellite_mttr_s = 100
)";

ContactPlan BuildTrue(int seed, int threads) {
  std::string text = kFaultyShell;
  text.replace(text.find("SEED"), 4, std::to_string(seed));
  absl::StatusOr<Scenario> scenario = ParseScenario(text, "faulty", ".");
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<Constellation> constellation = BuildConstellation(*scenario);
  EXPECT_TRUE(constellation.ok()) << constellation.status();
  absl::StatusOr<ContactPlan> plan =
      BuildScenarioPlan(*scenario, *constellation, /*include_faults=*/true, threads);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *std::move(plan);
}

TEST(ContactPlanCsvTest, SameScenarioAndSeedGiveIdenticalBytes) {
  const ContactPlan first = BuildTrue(11, 1);
  const ContactPlan second = BuildTrue(11, 2);  // thread count must not matter either
  // EXPECT_TRUE, not EXPECT_EQ: a failure must not print megabytes of CSV.
  EXPECT_TRUE(ContactPlanCsv(first) == ContactPlanCsv(second));
  EXPECT_TRUE(OutageCsv(first) == OutageCsv(second));
  EXPECT_NE(OutageCsv(first).find(",fault\n"), std::string::npos) << "no fault in 20 minutes";
  EXPECT_GT(first.Contacts().size(), first.links().size() / 2);
}

TEST(ContactPlanCsvTest, AnotherSeedGivesOtherFaults) {
  const ContactPlan a = BuildTrue(11, 0);
  const ContactPlan b = BuildTrue(12, 0);
  EXPECT_FALSE(OutageCsv(a) == OutageCsv(b));
  // Geometry does not depend on the seed: the candidate links are the same.
  ASSERT_EQ(a.links().size(), b.links().size());
  for (size_t i = 0; i < a.links().size(); ++i) {
    EXPECT_EQ(a.links()[i].a, b.links()[i].a);
    EXPECT_EQ(a.links()[i].b, b.links()[i].b);
  }
}

}  // namespace
}  // namespace crosslink::linkmodel
