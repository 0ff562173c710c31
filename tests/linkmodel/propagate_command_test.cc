// `crosslink-linkmodel propagate`, run as a user runs it: the built executable on Vallado's
// verification file, its CSV rows compared with tcppver.out.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

const std::string kBinary = std::string(CROSSLINK_BIN_DIR) + "/crosslink-linkmodel";
const std::string kDataDir = std::string(CROSSLINK_SOURCE_DIR) + "/tests/data/sgp4";

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

ToolRun RunTool(const std::string& args) {
  const std::filesystem::path err_path =
      std::filesystem::temp_directory_path() /
      ("propagate_command_test_" + std::to_string(::getpid()) + ".err");
  const std::string command = kBinary + " " + args + " 2>" + err_path.string();
  ToolRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  run.err = ss.str();
  std::filesystem::remove(err_path);
  return run;
}

struct Row {
  double t_min;
  double v[6];
};

// tcppver.out, by satellite (first occurrence only; 20413 appears twice).
std::map<long long, std::vector<Row>> Reference() {
  std::map<long long, std::vector<Row>> cases;
  std::ifstream in(kDataDir + "/tcppver.out");
  std::string line;
  std::vector<Row>* current = nullptr;
  while (std::getline(in, line)) {
    if (line.find("xx") != std::string::npos) {
      const long long id = std::stoll(line);
      current = cases.contains(id) ? nullptr : &cases[id];
      continue;
    }
    if (current == nullptr) continue;
    std::istringstream words(line);
    Row row;
    if (words >> row.t_min >> row.v[0] >> row.v[1] >> row.v[2] >> row.v[3] >> row.v[4] >>
        row.v[5]) {
      current->push_back(row);
    }
  }
  return cases;
}

std::vector<std::pair<long long, Row>> ParseCsv(const std::string& out) {
  std::vector<std::pair<long long, Row>> rows;
  std::istringstream lines(out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "norad,tsince_min,x_km,y_km,z_km,vx_km_s,vy_km_s,vz_km_s");
  while (std::getline(lines, line)) {
    long long id = 0;
    Row row;
    EXPECT_EQ(std::sscanf(line.c_str(), "%lld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &id, &row.t_min,
                          &row.v[0], &row.v[1], &row.v[2], &row.v[3], &row.v[4], &row.v[5]),
              8)
        << line;
    rows.push_back({id, row});
  }
  return rows;
}

// One satellite on its verification grid: the rows must be tcppver.out's rows after its t = 0
// line (which the driver always prints first), the same in number and value.
void CheckSatellite(long long id, const std::string& grid, bool starts_at_zero) {
  SCOPED_TRACE(testing::Message() << "satellite " << id);
  ASSERT_TRUE(std::filesystem::exists(kBinary)) << kBinary << " is not built";
  const ToolRun run = RunTool("propagate --tle " + kDataDir + "/SGP4-VER.TLE --sat " +
                              std::to_string(id) + " " + grid);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::pair<long long, Row>> got = ParseCsv(run.out);
  std::vector<Row> want = Reference().at(id);
  if (!starts_at_zero) want.erase(want.begin());
  ASSERT_EQ(got.size(), want.size()) << run.out << run.err;
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(got[k].first, id);
    EXPECT_NEAR(got[k].second.t_min, want[k].t_min, 1e-8);
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(got[k].second.v[j], want[k].v[j], 1e-6) << k;
    for (int j = 3; j < 6; ++j) EXPECT_NEAR(got[k].second.v[j], want[k].v[j], 2e-9) << k;
  }
}

TEST(PropagateCommandTest, NearEarthRowsMatchVerificationOutput) {
  CheckSatellite(5, "--start-min 0 --stop-min 4320 --step-min 360", true);
}

TEST(PropagateCommandTest, DeepSpaceNegativeTimesEndOnTheStopTime) {
  // 4632: -5184 to -4896 in steps of 120: the last row is clamped to -4896.
  CheckSatellite(4632, "--start-min -5184 --stop-min -4896 --step-min 120", false);
}

TEST(PropagateCommandTest, ResonantOrbitRowsMatchVerificationOutput) {
  CheckSatellite(23599, "--start-min 0 --stop-min 720 --step-min 20", true);
}

TEST(PropagateCommandTest, DecayingSatelliteStopsWithAMessageAndExitsZero) {
  CheckSatellite(28872, "--start-min 0 --stop-min 60 --step-min 5", true);
  const ToolRun run = RunTool("propagate --tle " + kDataDir +
                              "/SGP4-VER.TLE --no-checksum --sat 28872 --start-min 0 --stop-min 60 "
                              "--step-min 5");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("28872"));
  EXPECT_THAT(run.err, HasSubstr("55.000000 min"));
}

TEST(PropagateCommandTest, EverySatelliteWithoutSat) {
  const ToolRun run =
      RunTool("propagate --tle " + kDataDir +
              "/SGP4-VER.TLE --no-checksum --start-min 0 --stop-min 0 --step-min 1");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // 33 sets; 33334 fails at its epoch, so 32 rows.
  EXPECT_EQ(ParseCsv(run.out).size(), 32u);
  EXPECT_THAT(run.err, HasSubstr("33334"));
}

TEST(PropagateCommandTest, BadArgumentsAreUsageErrors) {
  const std::string tle = "--tle " + kDataDir + "/SGP4-VER.TLE ";
  EXPECT_EQ(RunTool("propagate").exit_code, 2);
  EXPECT_EQ(RunTool("propagate " + tle + "--start-min 0 --stop-min 10").exit_code, 2);
  EXPECT_EQ(RunTool("propagate " + tle + "--start-min 0 --stop-min 10 --step-min 0").exit_code, 2);
  EXPECT_EQ(RunTool("propagate " + tle + "--start-min 10 --stop-min 0 --step-min 1").exit_code, 2);
  EXPECT_EQ(RunTool("propagate " + tle + "--start-min x --stop-min 0 --step-min 1").exit_code, 2);
  EXPECT_EQ(
      RunTool("propagate " + tle + "--sat 99999 --start-min 0 --stop-min 1 --step-min 1").exit_code,
      2);
  EXPECT_EQ(RunTool("no-such-command").exit_code, 2);
  EXPECT_EQ(
      RunTool("propagate --tle /nonexistent.tle --start-min 0 --stop-min 1 --step-min 1").exit_code,
      1);
}

}  // namespace
