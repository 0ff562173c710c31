// TLE parsing: fields read as Vallado reads them, files in 2-line / 3-line / mixed form, errors
// that name the file, the line and the field, and the real constellation snapshots the scenarios
// use (every satellite loads and propagates at its epoch).
#include "crosslink/linkmodel/tle.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/sgp4.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kSourceDir = CROSSLINK_SOURCE_DIR;

// Vallado's first verification case (checksums valid).
constexpr char kLine1[] = "1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753";
constexpr char kLine2[] = "2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413667";
// A Starlink set from the snapshot.
constexpr char kStarlink1[] =
    "1 44714U 19074B   25023.74741757 -.00000020  00000+0  17545-4 0  9993";
constexpr char kStarlink2[] =
    "2 44714  53.0539 226.9173 0001685  88.5176 271.6006 15.06394136287133";

// `line` with column 69 set to its correct checksum.
std::string WithChecksum(std::string line) {
  line[68] = static_cast<char>('0' + TleChecksum(line));
  return line;
}

TEST(TleTest, ParsesEveryFieldAsPrinted) {
  absl::StatusOr<Tle> tle = ParseTle(kLine1, kLine2, "  TEME EXAMPLE  ");
  ASSERT_TRUE(tle.ok()) << tle.status();
  EXPECT_EQ(tle->name, "TEME EXAMPLE");
  EXPECT_EQ(tle->norad_id, 5);
  EXPECT_EQ(tle->classification, 'U');
  EXPECT_EQ(tle->international_designator, "58002B");
  EXPECT_EQ(tle->epoch_year, 2000);
  EXPECT_DOUBLE_EQ(tle->epoch_day_of_year, 179.78495062);
  EXPECT_DOUBLE_EQ(tle->ndot_rev_per_day2, 0.00000023);
  EXPECT_DOUBLE_EQ(tle->nddot_rev_per_day3, 0.0);
  EXPECT_DOUBLE_EQ(tle->bstar_per_earth_radius, 0.28098e-4);
  EXPECT_EQ(tle->ephemeris_type, 0);
  EXPECT_EQ(tle->element_set_number, 475);
  EXPECT_DOUBLE_EQ(tle->inclination_deg, 34.2682);
  EXPECT_DOUBLE_EQ(tle->raan_deg, 348.7242);
  EXPECT_DOUBLE_EQ(tle->eccentricity, 0.1859667);
  EXPECT_DOUBLE_EQ(tle->arg_perigee_deg, 331.7664);
  EXPECT_DOUBLE_EQ(tle->mean_anomaly_deg, 19.3264);
  EXPECT_DOUBLE_EQ(tle->mean_motion_rev_per_day, 10.82419157);
  EXPECT_EQ(tle->revolution_number, 41366);
}

TEST(TleTest, EpochAsTimeAndSplitJulianDate) {
  absl::StatusOr<Tle> tle = ParseTle(kLine1, kLine2);
  ASSERT_TRUE(tle.ok()) << tle.status();
  // Day 179.78495062 of 2000 (a leap year) is 27 June, 0.78495062 * 86400 s = 18:50:19.733568.
  const absl::Time expected =
      absl::FromCivil(absl::CivilSecond(2000, 6, 27, 18, 50, 19), absl::UTCTimeZone()) +
      absl::Microseconds(733568);
  EXPECT_LE(absl::AbsDuration(tle->epoch - expected), absl::Microseconds(1));
  EXPECT_EQ(tle->epoch_jd_whole, 2451722.5);
  EXPECT_NEAR(tle->epoch_jd_fraction, 0.78495062, 1e-12);
  EXPECT_NEAR(ToDoubleSeconds(tle->epoch - absl::UnixEpoch()) / 86400.0 + 2440587.5,
              tle->epoch_jd_whole + tle->epoch_jd_fraction, 1e-9);
}

TEST(TleTest, NegativeExponentFieldsAndTwentiethCenturyYear) {
  // MOLNIYA 1-83: negative B*; SL-6 R/B: nonzero second derivative.
  absl::StatusOr<Tle> a =
      ParseTle("1 21897U 92011A   06176.02341244 -.00001273  00000-0 -13525-3 0  3044",
               "2 21897  62.1749 198.0096 7421690 253.0462  20.1561  2.01269994104880");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_DOUBLE_EQ(a->bstar_per_earth_radius, -0.13525e-3);
  EXPECT_DOUBLE_EQ(a->ndot_rev_per_day2, -0.00001273);
  absl::StatusOr<Tle> b =
      ParseTle("1 16925U 86065D   06151.67415771  .02550794 -30915-6  18784-3 0  4486",
               "2 16925  62.0906 295.0239 5596327 245.1593  47.9690  4.88511875148616");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_DOUBLE_EQ(b->nddot_rev_per_day3, -0.30915e-6);
  absl::StatusOr<Tle> c =
      ParseTle("1 11801U          80230.29629788  .01431103  00000-0  14311-1      13",
               "2 11801  46.7916 230.4354 7318036  47.4722  10.4117  2.28537848    13");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->epoch_year, 1980);
  EXPECT_EQ(c->international_designator, "");
  EXPECT_EQ(c->revolution_number, 1);
}

TEST(TleTest, DecodesAlpha5CatalogueNumbers) {
  const std::string l1 =
      WithChecksum("1 A0005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4750");
  const std::string l2 =
      WithChecksum("2 A0005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413660");
  absl::StatusOr<Tle> tle = ParseTle(l1, l2);
  ASSERT_TRUE(tle.ok()) << tle.status();
  EXPECT_EQ(tle->norad_id, 100005);
}

TEST(TleTest, ChecksumCountsDigitsAndMinusSigns) {
  EXPECT_EQ(TleChecksum(kLine1), 3);
  EXPECT_EQ(TleChecksum(kLine2), 7);
  EXPECT_EQ(TleChecksum("1 -"), 2);
}

TEST(TleTest, BadChecksumNamesFileLineAndField) {
  std::string bad = kLine1;
  bad[68] = '4';
  const std::string text = "# comment\nISS\n" + bad + "\n" + kLine2 + "\n";
  absl::StatusOr<std::vector<Tle>> tles = ParseTleText(text, "sats.txt");
  ASSERT_FALSE(tles.ok());
  EXPECT_EQ(tles.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tles.status().message()),
              AllOf(HasSubstr("sats.txt:3"), HasSubstr("checksum"), HasSubstr("line 1")));
  // The same file loads when checksums are not verified.
  TleOptions lax;
  lax.verify_checksums = false;
  EXPECT_TRUE(ParseTleText(text, "sats.txt", lax).ok());
}

TEST(TleTest, MalformedFieldNamesFileLineAndField) {
  std::string l2 = kLine2;
  l2[10] = 'x';  // inclination " 34.2682" -> " 3x.2682"
  const std::string text = std::string(kLine1) + "\n" + WithChecksum(l2) + "\n";
  absl::StatusOr<std::vector<Tle>> tles = ParseTleText(text, "f.tle");
  ASSERT_FALSE(tles.ok());
  EXPECT_EQ(tles.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tles.status().message()),
              AllOf(HasSubstr("f.tle:2"), HasSubstr("inclination"), HasSubstr("columns 9-16")));

  std::string l1 = kLine1;
  l1[53] = '*';  // B* sign
  tles = ParseTleText(WithChecksum(l1) + "\n" + kLine2, "f.tle");
  ASSERT_FALSE(tles.ok());
  EXPECT_THAT(std::string(tles.status().message()),
              AllOf(HasSubstr("f.tle:1"), HasSubstr("bstar")));

  std::string ecc = kLine2;
  ecc[27] = '.';  // eccentricity with an explicit point is not TLE format
  tles = ParseTleText(std::string(kLine1) + "\n" + WithChecksum(ecc), "f.tle");
  ASSERT_FALSE(tles.ok());
  EXPECT_THAT(std::string(tles.status().message()), HasSubstr("eccentricity"));
}

TEST(TleTest, StructuralErrorsNameTheLine) {
  // Short line.
  absl::StatusOr<std::vector<Tle>> r =
      ParseTleText(std::string(kLine1).substr(0, 60) + "\n" + kLine2, "s.tle");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), AllOf(HasSubstr("s.tle:1"), HasSubstr("60")));
  // Line 1 without line 2.
  r = ParseTleText(std::string("NAME\n") + kLine1 + "\n\nOTHER\n", "s.tle");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("s.tle:2"));
  // Line 2 without line 1.
  r = ParseTleText(std::string(kLine2) + "\n", "s.tle");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("s.tle:1"));
  // Different satellite numbers on the two lines.
  r = ParseTleText(std::string(kLine1) + "\n" + kStarlink2 + "\n", "s.tle");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              AllOf(HasSubstr("s.tle:2"), HasSubstr("satellite number")));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TleTest, ReadsTwoLineThreeLineAndMixedFiles) {
  const std::string two =
      std::string(kLine1) + "\n" + kLine2 + "\n" + kStarlink1 + "\n" + kStarlink2 + "\n";
  absl::StatusOr<std::vector<Tle>> r = ParseTleText(two, "two.tle");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "");
  EXPECT_EQ((*r)[1].norad_id, 44714);

  // 3-line with CR-LF ends, a "0 " name prefix, blank lines and comments, and a trailing
  // 2-line set.
  const std::string mixed = std::string("# snapshot\r\n0 VANGUARD 1\r\n") + kLine1 + "\r\n" +
                            kLine2 + "\r\n\r\nSTARLINK-1008           \r\n" + kStarlink1 + "\r\n" +
                            kStarlink2 + "\r\n   \r\n" + kLine1 + "\n" + kLine2;
  r = ParseTleText(mixed, "mixed.tle");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].name, "VANGUARD 1");
  EXPECT_EQ((*r)[1].name, "STARLINK-1008");
  EXPECT_EQ((*r)[2].name, "");
  EXPECT_EQ((*r)[2].norad_id, 5);

  EXPECT_TRUE(ParseTleText("", "empty.tle")->empty());
}

TEST(TleTest, LoadTleFileReadsFromDiskAndReportsMissingFiles) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("tle_test_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(path);
    out << "SAT A\n" << kLine1 << "\n" << kLine2 << "\n";
  }
  absl::StatusOr<std::vector<Tle>> r = LoadTleFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 1u);
  std::filesystem::remove(path);
  r = LoadTleFile(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(path.string()));
}

TEST(TleTest, VerificationFileCarriesTheTimeGrid) {
  TleOptions options;
  options.verify_checksums = false;
  absl::StatusOr<std::vector<VerificationTle>> cases =
      LoadVerificationTleFile(kSourceDir + "/tests/data/sgp4/SGP4-VER.TLE", options);
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 33u);
  EXPECT_EQ((*cases)[0].tle.norad_id, 5);
  EXPECT_EQ((*cases)[0].start_min, 0.0);
  EXPECT_EQ((*cases)[0].stop_min, 4320.0);
  EXPECT_EQ((*cases)[0].step_min, 360.0);
  EXPECT_EQ((*cases)[1].start_min, -5184.0);
  const VerificationTle* decayed = nullptr;
  for (const VerificationTle& c : *cases) {
    if (c.tle.norad_id == 22312) decayed = &c;
  }
  ASSERT_NE(decayed, nullptr);
  EXPECT_DOUBLE_EQ(decayed->start_min, 54.2028672);
  // Four lines of the file were edited by hand (the error-code cases) and fail their checksums.
  EXPECT_FALSE(LoadVerificationTleFile(kSourceDir + "/tests/data/sgp4/SGP4-VER.TLE").ok());
  // A plain TLE file has no grid.
  EXPECT_FALSE(ParseVerificationTleText(std::string(kLine1) + "\n" + kLine2, "x").ok());
}

// The snapshots the scenarios use load in full, and every satellite propagates at its epoch.
void CheckSnapshot(const std::string& file, size_t expected_count, double min_radius_km,
                   double max_radius_km) {
  absl::StatusOr<std::vector<Tle>> tles = LoadTleFile(kSourceDir + "/bench/scenarios/tle/" + file);
  ASSERT_TRUE(tles.ok()) << tles.status();
  ASSERT_EQ(tles->size(), expected_count);
  std::set<int64_t> ids;
  int failures = 0;
  for (const Tle& tle : *tles) {
    ids.insert(tle.norad_id);
    EXPECT_FALSE(tle.name.empty());
    absl::StatusOr<Sgp4> sgp4 = Sgp4::Create(tle);
    ASSERT_TRUE(sgp4.ok()) << sgp4.status();
    absl::StatusOr<StateVector> s = sgp4->Propagate(0.0);
    if (!s.ok()) {
      ++failures;
      ADD_FAILURE() << s.status();
      continue;
    }
    const double r = Norm(s->position_km);
    EXPECT_GT(r, min_radius_km) << tle.name;
    EXPECT_LT(r, max_radius_km) << tle.name;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ids.size(), expected_count);
}

TEST(TleTest, StarlinkSnapshotLoadsAndPropagates) {
  CheckSnapshot("starlink.txt", 6909, 6378.0 + 150.0, 6378.0 + 700.0);
}

TEST(TleTest, OneWebSnapshotLoadsAndPropagates) {
  CheckSnapshot("oneweb.txt", 651, 6378.0 + 150.0, 6378.0 + 1300.0);
}

}  // namespace
}  // namespace crosslink::linkmodel
