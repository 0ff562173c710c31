// Scenario files: every key reaches the struct, absent keys keep the documented defaults, and a
// mistake (unknown key, wrong type, out-of-range value, bad TOML) is kInvalidArgument that names
// the file and the key.
#include "crosslink/linkmodel/scenario.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Scenario> Parse(const std::string& text) {
  return ParseScenario(text, "test", "/scenarios");
}

TEST(ScenarioTest, EmptyFileGivesDefaults) {
  absl::StatusOr<Scenario> s = Parse("");
  ASSERT_TRUE(s.ok()) << s.status();
  const Scenario defaults;
  EXPECT_EQ(s->name, "test");
  EXPECT_EQ(s->source_dir, std::filesystem::path("/scenarios"));
  EXPECT_EQ(s->time.start, defaults.time.start);
  EXPECT_EQ(s->time.duration_s, 5730.0);
  EXPECT_EQ(s->time.step_s, 1.0);
  EXPECT_EQ(s->constellation.type, ConstellationConfig::Type::kWalkerDelta);
  EXPECT_EQ(s->constellation.walker.planes, 72);
  EXPECT_EQ(s->constellation.walker.sats_per_plane, 22);
  EXPECT_EQ(s->links.topology, Topology::kPlusGrid);
  EXPECT_EQ(s->links.max_range_km, 5000.0);
  EXPECT_EQ(s->faults.seed, 1u);
  EXPECT_EQ(s->faults.corruption_mtbf_s, 0.0);  // no bit errors unless asked for
  EXPECT_TRUE(s->cluster.rank_satellites.empty());
}

TEST(ScenarioTest, EveryWalkerKeyIsRead) {
  absl::StatusOr<Scenario> s = Parse(R"(
[time]
start_utc = "2025-03-01T12:30:00Z"
duration_s = 600
step_s = 0.5
time_scale = 10.0

[constellation]
type = "walker-delta"
planes = 6
sats_per_plane = 11
phasing = 1
altitude_km = 780.0
inclination_deg = 86.4
raan_spread_deg = 180.0
raan_offset_deg = 5.0

[links]
topology = "nearest-k"
terminals = 3
grazing_altitude_km = 100.0
max_range_km = 4000.0
polar_cutoff_deg = 70.0
sun_exclusion_deg = 3.0
acquisition_s = 10.0
rate_bps = 1e10
rate_reference_range_km = 2000.0

[faults]
seed = 42
link_mtbf_s = 3600.0
link_mttr_s = 60.0
satellite_mtbf_s = 86400.0
satellite_mttr_s = 300.0
corruption_mtbf_s = 12.5

[cluster]
satellites = ["P0S0", "P0S1"]
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->time.start,
            absl::FromCivil(absl::CivilSecond(2025, 3, 1, 12, 30, 0), absl::UTCTimeZone()));
  EXPECT_EQ(s->time.duration_s, 600.0);
  EXPECT_EQ(s->time.step_s, 0.5);
  EXPECT_EQ(s->time.time_scale, 10.0);
  const WalkerConfig& w = s->constellation.walker;
  EXPECT_EQ(w.planes, 6);
  EXPECT_EQ(w.sats_per_plane, 11);
  EXPECT_EQ(w.phasing, 1);
  EXPECT_EQ(w.altitude_km, 780.0);
  EXPECT_EQ(w.inclination_deg, 86.4);
  EXPECT_EQ(w.raan_spread_deg, 180.0);
  EXPECT_EQ(w.raan_offset_deg, 5.0);
  const LinkPhysics& l = s->links;
  EXPECT_EQ(l.topology, Topology::kNearestK);
  EXPECT_EQ(l.terminals, 3);
  EXPECT_EQ(l.grazing_altitude_km, 100.0);
  EXPECT_EQ(l.max_range_km, 4000.0);
  EXPECT_EQ(l.polar_cutoff_deg, 70.0);
  EXPECT_EQ(l.sun_exclusion_deg, 3.0);
  EXPECT_EQ(l.acquisition_s, 10.0);
  EXPECT_EQ(l.rate_bps, 1e10);
  EXPECT_EQ(l.rate_reference_range_km, 2000.0);
  EXPECT_EQ(s->faults.seed, 42u);
  EXPECT_EQ(s->faults.link_mtbf_s, 3600.0);
  EXPECT_EQ(s->faults.link_mttr_s, 60.0);
  EXPECT_EQ(s->faults.satellite_mtbf_s, 86400.0);
  EXPECT_EQ(s->faults.satellite_mttr_s, 300.0);
  EXPECT_EQ(s->faults.corruption_mtbf_s, 12.5);
  EXPECT_THAT(s->cluster.rank_satellites, ElementsAre("P0S0", "P0S1"));
}

TEST(ScenarioTest, TomlDateTimeWithOffsetIsUtc) {
  absl::StatusOr<Scenario> s = Parse("[time]\nstart_utc = 2025-03-01T14:30:00+02:00\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->time.start,
            absl::FromCivil(absl::CivilSecond(2025, 3, 1, 12, 30, 0), absl::UTCTimeZone()));
}

TEST(ScenarioTest, TleKeysAndRelativePath) {
  absl::StatusOr<Scenario> s = Parse(R"(
[constellation]
type = "tle"
file = "tle/starlink.txt"
satellites = ["STARLINK-1007", 44714]
inclination_min_deg = 52.5
inclination_max_deg = 53.5
first_n = 100
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->constellation.type, ConstellationConfig::Type::kTle);
  EXPECT_EQ(s->constellation.tle.file, std::filesystem::path("/scenarios/tle/starlink.txt"));
  EXPECT_THAT(s->constellation.tle.satellites, ElementsAre("STARLINK-1007", "44714"));
  EXPECT_EQ(s->constellation.tle.inclination_min_deg, 52.5);
  EXPECT_EQ(s->constellation.tle.inclination_max_deg, 53.5);
  EXPECT_EQ(s->constellation.tle.first_n, 100);
}

TEST(ScenarioTest, AbsoluteTlePathIsKept) {
  absl::StatusOr<Scenario> s = Parse("[constellation]\ntype = \"tle\"\nfile = \"/data/x.txt\"\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->constellation.tle.file, std::filesystem::path("/data/x.txt"));
}

TEST(ScenarioTest, OneFormationInline) {
  absl::StatusOr<Scenario> s = Parse(R"(
[constellation]
type = "formation"
count = 9
radius_km = 2.0
altitude_km = 600.0
inclination_deg = 97.8
raan_deg = 10.0
raan_offset_deg = 1.0
mean_anomaly_deg = 30.0
)");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->constellation.formations.size(), 1u);
  const FormationConfig& f = s->constellation.formations[0];
  EXPECT_EQ(f.count, 9);
  EXPECT_EQ(f.radius_km, 2.0);
  EXPECT_EQ(f.altitude_km, 600.0);
  EXPECT_EQ(f.inclination_deg, 97.8);
  EXPECT_EQ(f.raan_deg, 10.0);
  EXPECT_EQ(f.raan_offset_deg, 1.0);
  EXPECT_EQ(f.mean_anomaly_deg, 30.0);
}

TEST(ScenarioTest, FormationDefaultsAreSunSynchronousDawnDusk) {
  absl::StatusOr<Scenario> s = Parse("[constellation]\ntype = \"formation\"\n");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->constellation.formations.size(), 1u);
  EXPECT_EQ(s->constellation.formations[0].count, 81);
  EXPECT_TRUE(std::isnan(s->constellation.formations[0].inclination_deg));
  EXPECT_TRUE(std::isnan(s->constellation.formations[0].raan_deg));
}

TEST(ScenarioTest, SeveralFormationClusters) {
  absl::StatusOr<Scenario> s = Parse(R"(
[constellation]
type = "formation"
[[constellation.cluster]]
count = 4
[[constellation.cluster]]
count = 5
raan_offset_deg = 2.0
)");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->constellation.formations.size(), 2u);
  EXPECT_EQ(s->constellation.formations[0].count, 4);
  EXPECT_EQ(s->constellation.formations[1].count, 5);
  EXPECT_EQ(s->constellation.formations[1].raan_offset_deg, 2.0);
}

void ExpectInvalid(const std::string& text, const std::string& key) {
  absl::StatusOr<Scenario> s = Parse(text);
  ASSERT_FALSE(s.ok()) << "accepted:\n" << text;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("/scenarios/test.toml"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(key));
}

TEST(ScenarioTest, UnknownKeysAndSectionsAreRejected) {
  ExpectInvalid("[links]\nmax_range = 10.0\n", "links.max_range");
  ExpectInvalid("[lnks]\nmax_range_km = 10.0\n", "lnks");
  ExpectInvalid("colour = 1\n", "colour");
  // A key of another constellation type is a mistake too.
  ExpectInvalid("[constellation]\ntype = \"tle\"\nfile = \"x\"\nplanes = 3\n",
                "constellation.planes");
  ExpectInvalid("[constellation]\ntype = \"formation\"\n[[constellation.cluster]]\nsize = 3\n",
                "constellation.cluster[0].size");
}

TEST(ScenarioTest, WrongTypesAreRejected) {
  ExpectInvalid("[time]\nduration_s = \"long\"\n", "time.duration_s");
  ExpectInvalid("[constellation]\nplanes = 2.5\n", "constellation.planes");
  ExpectInvalid("[cluster]\nsatellites = \"P0S0\"\n", "cluster.satellites");
  ExpectInvalid("[cluster]\nsatellites = [1, 2]\n", "cluster.satellites");
  ExpectInvalid("time = 3\n", "time");
  ExpectInvalid("[time]\nstart_utc = \"yesterday\"\n", "time.start_utc");
}

TEST(ScenarioTest, OutOfRangeValuesAreRejected) {
  ExpectInvalid("[time]\nduration_s = -5\n", "time.duration_s");
  ExpectInvalid("[time]\nstep_s = 0\n", "time.step_s");
  ExpectInvalid("[time]\nduration_s = 10\nstep_s = 20\n", "time.step_s");
  ExpectInvalid("[time]\ntime_scale = 0\n", "time.time_scale");
  ExpectInvalid("[constellation]\nplanes = 0\n", "constellation.planes");
  ExpectInvalid("[constellation]\nplanes = 4\nphasing = 4\n", "constellation.phasing");
  ExpectInvalid("[constellation]\ninclination_deg = 190\n", "constellation.inclination_deg");
  ExpectInvalid("[constellation]\ntype = \"hexagon\"\n", "constellation.type");
  ExpectInvalid("[constellation]\ntype = \"tle\"\n", "constellation.file");
  ExpectInvalid("[links]\ntopology = \"mesh\"\n", "links.topology");
  ExpectInvalid("[links]\nmax_range_km = -1\n", "links.max_range_km");
  ExpectInvalid("[links]\nrate_bps = 0\n", "links.rate_bps");
  ExpectInvalid("[links]\npolar_cutoff_deg = 91\n", "links.polar_cutoff_deg");
  ExpectInvalid("[faults]\nseed = -1\n", "faults.seed");
  ExpectInvalid("[faults]\nlink_mtbf_s = 100\n", "faults.link_mttr_s");
  ExpectInvalid("[faults]\ncorruption_mtbf_s = -1\n", "faults.corruption_mtbf_s");
  ExpectInvalid("[cluster]\nsatellites = [\"A\", \"A\"]\n", "cluster.satellites");
}

TEST(ScenarioTest, BadValueNamesItsLine) {
  absl::StatusOr<Scenario> s = Parse("[time]\nduration_s = 10\n\n[links]\nmax_range_km = -3\n");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("line 5"));
}

TEST(ScenarioTest, SyntaxErrorNamesLine) {
  absl::StatusOr<Scenario> s = Parse("[time]\nduration_s = 10\nstep_s = = 1\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("line 3"));
}

TEST(ScenarioTest, LoadScenarioReadsFileAndResolvesItsFolder) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "scenario_test_load";
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "mine.toml";
  {
    std::ofstream out(file);
    out << "[constellation]\ntype = \"tle\"\nfile = \"sats.tle\"\n";
  }
  absl::StatusOr<Scenario> s = LoadScenario(file);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "mine");
  EXPECT_EQ(s->constellation.tle.file, dir / "sats.tle");

  absl::StatusOr<Scenario> missing = LoadScenario(dir / "absent.toml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("absent.toml"));
}

}  // namespace
}  // namespace crosslink::linkmodel
