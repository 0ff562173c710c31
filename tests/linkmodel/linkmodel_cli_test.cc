// crosslink-linkmodel's contacts and summary subcommands, run as a user runs them (the built
// binary in CROSSLINK_BIN_DIR) on a small scenario: the files appear with the documented content,
// the ION file reads back, and mistakes give a non-zero exit status with a message.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "crosslink/linkmodel/ion_contact_plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct CliRun {
  int exit_status = -1;
  std::string output;  // stdout and stderr
};

CliRun RunCli(const std::string& args) {
  const char* bin_dir = std::getenv("CROSSLINK_BIN_DIR");
  const std::string bin =
      (std::filesystem::path(bin_dir ? bin_dir : CROSSLINK_BIN_DIR) / "crosslink-linkmodel")
          .string();
  CliRun run;
  FILE* pipe = popen(absl::StrCat("'", bin, "' ", args, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class LinkmodelCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test and process: CTest runs the tests of this suite side by side.
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("linkmodel_cli_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "small.toml") << R"(
[time]
duration_s = 900
step_s = 2
[constellation]
planes = 8
sats_per_plane = 16
phasing = 1
[links]
polar_cutoff_deg = 45
acquisition_s = 10
[faults]
seed = 4
link_mtbf_s = 5000
link_mttr_s = 60
[cluster]
satellites = ["P0S0", "P0S1"]
)";
  }
  std::filesystem::path dir_;
};

TEST_F(LinkmodelCliTest, ContactsWritesEveryRequestedFile) {
  const CliRun run = RunCli(
      absl::StrCat("contacts --scenario ", (dir_ / "small.toml").string(), " --csv ",
                   (dir_ / "c.csv").string(), " --ion ", (dir_ / "c.ion").string(), " --outages ",
                   (dir_ / "o.csv").string(), " --plot ", (dir_ / "a.png").string()));
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("128 satellites"));
  EXPECT_THAT(ReadFile(dir_ / "c.csv"), StartsWith("sat_a,sat_b,start_s,end_s,owlt_min_s"));
  EXPECT_THAT(ReadFile(dir_ / "o.csv"), StartsWith("sat_a,sat_b,start_s,end_s,cause\n"));
  EXPECT_THAT(ReadFile(dir_ / "o.csv"), HasSubstr(",fault\n")) << "the true plan is the default";
  EXPECT_THAT(ReadFile(dir_ / "a.png"), StartsWith("\x89PNG"));
  absl::StatusOr<IonContactPlan> ion = ReadIonContactPlan(dir_ / "c.ion");
  ASSERT_TRUE(ion.ok()) << ion.status();
  EXPECT_EQ(ion->node_names.size(), 128u);
  EXPECT_GT(ion->contacts.size(), 0u);
}

TEST_F(LinkmodelCliTest, PredictedPlanHasNoFaults) {
  const CliRun run = RunCli(
      absl::StrCat("contacts --predicted --scenario ", (dir_ / "small.toml").string(), " --csv ",
                   (dir_ / "p.csv").string(), " --outages ", (dir_ / "p_out.csv").string()));
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_THAT(ReadFile(dir_ / "p_out.csv"), Not(HasSubstr(",fault\n")));
}

TEST_F(LinkmodelCliTest, SummaryPrintsBothPlansAndTimes) {
  const CliRun run = RunCli(absl::StrCat("summary --scenario ", (dir_ / "small.toml").string()));
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Predicted plan"));
  EXPECT_THAT(run.output, HasSubstr("True plan"));
  EXPECT_THAT(run.output, HasSubstr("Wall time"));
  EXPECT_THAT(run.output, HasSubstr("0=P0S0 1=P0S1"));
}

TEST_F(LinkmodelCliTest, MistakesFailWithAMessage) {
  CliRun run = RunCli("contacts --scenario x.toml");
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.output, HasSubstr("--csv"));
  run = RunCli("contacts --scenario /nonexistent/s.toml --csv /tmp/x.csv");
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.output, HasSubstr("/nonexistent/s.toml"));
  run = RunCli("summary --scenario s.toml --bogus");
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.output, HasSubstr("--bogus"));
  run = RunCli("contacts --scenario s.toml --csv c.csv --threads=-1");
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.output, HasSubstr("--threads"));
}

TEST_F(LinkmodelCliTest, HelpListsEachCommandsFlagsAndExitsZero) {
  CliRun run = RunCli("--help");
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_THAT(run.output,
              AllOf(HasSubstr("propagate"), HasSubstr("contacts"), HasSubstr("summary")));
  run = RunCli("contacts --help");
  EXPECT_EQ(run.exit_status, 0);
  for (const char* flag :
       {"--scenario FILE", "--csv", "--ion", "--plot", "--outages", "--predicted", "--threads"}) {
    EXPECT_THAT(run.output, HasSubstr(flag));
  }
  run = RunCli("summary --help");
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_THAT(run.output,
              AllOf(HasSubstr("--scenario"), HasSubstr("--plot"), Not(HasSubstr("--predicted"))));
  run = RunCli("propagate -h");
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_THAT(run.output, AllOf(HasSubstr("--tle"), HasSubstr("--sat"), HasSubstr("--step-min")));
}

}  // namespace
}  // namespace crosslink::linkmodel
