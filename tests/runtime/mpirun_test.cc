// Open MPI for real: crosslink-bench started by Debian's mpirun (no crosslink-run, no variables
// set by hand) takes its numbering from OMPI_COMM_WORLD_*, its token from mpirun's per-job key,
// finds rank 0's embedded coordinator on loopback at the port derived from mpirun's job id, and
// gives the same results as the same job under crosslink-run. Skips where mpirun is missing.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "real_launcher_util.h"

namespace crosslink::testing {
namespace {

using ::testing::HasSubstr;

// Root needs --allow-run-as-root; --oversubscribe lets 4 ranks share a 2-core machine.
std::string Mpirun(int ranks) {
  return absl::StrCat("mpirun --allow-run-as-root --oversubscribe -n ", ranks, " ");
}

class MpirunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTool("mpirun")) GTEST_SKIP() << "mpirun not installed (apt-get install openmpi-bin)";
  }
};

constexpr char kBenchArgs[] =
    " allreduce --min-bytes 4K --max-bytes 256K --step-factor 4 "
    "--iters 3 --warmup 1 --timeout 60";

TEST_F(MpirunTest, AllreduceMatchesCrosslinkRun) {
  // A clean environment: nothing of an outer launcher or of crosslink's own variables.
  const std::string clean =
      "env -u RANK -u WORLD_SIZE -u MASTER_ADDR -u MASTER_PORT -u CROSSLINK_JOB_TOKEN "
      "-u CROSSLINK_SCENARIO ";
  const ShellRun mpi =
      RunShell(absl::StrCat(clean, Mpirun(4), BinPath("crosslink-bench"), kBenchArgs), 180);
  ASSERT_EQ(mpi.exit_code, 0) << mpi.output;
  EXPECT_THAT(mpi.output, HasSubstr("crosslink-bench allreduce: 4 ranks"));
  EXPECT_THAT(mpi.output, HasSubstr("Out of bounds values : 0 OK"));

  const ShellRun local =
      RunShell(absl::StrCat(clean, BinPath("crosslink-bench"), kBenchArgs, " --ranks 4"), 180);
  ASSERT_EQ(local.exit_code, 0) << local.output;

  const std::vector<BenchRowKey> mpi_rows = BenchRows(mpi.output);
  const std::vector<BenchRowKey> local_rows = BenchRows(local.output);
  ASSERT_EQ(mpi_rows.size(), 4u) << mpi.output;  // 4K, 16K, 64K, 256K
  EXPECT_EQ(mpi_rows, local_rows) << "mpirun:\n"
                                  << Describe(mpi_rows) << "crosslink-run:\n"
                                  << Describe(local_rows);
  for (const BenchRowKey& row : mpi_rows) {
    EXPECT_EQ(row.wrong, "0");
    EXPECT_EQ(row.participants, "4");
  }
}

TEST_F(MpirunTest, RankZeroServesTheScenarioNamedOnTheCommandLine) {
  const std::string scenario = SourcePath("bench/scenarios/healthy-1g.toml");
  const ShellRun mpi = RunShell(
      absl::StrCat("env -u CROSSLINK_JOB_TOKEN -u CROSSLINK_SCENARIO ", Mpirun(3),
                   BinPath("crosslink-bench"),
                   " allreduce --min-bytes 64K --max-bytes 64K --iters 2 --warmup 1 --scenario ",
                   scenario),
      180);
  ASSERT_EQ(mpi.exit_code, 0) << mpi.output;
  // The bound is the oracle only when the ranks received the scenario from the coordinator.
  EXPECT_THAT(mpi.output, HasSubstr("3 ranks, scenario " + scenario));
  const std::vector<BenchRowKey> rows = BenchRows(mpi.output);
  ASSERT_EQ(rows.size(), 1u) << mpi.output;
  EXPECT_EQ(rows[0].wrong, "0");
  EXPECT_THAT(mpi.output, HasSubstr("oracle"));
}

TEST_F(MpirunTest, TwoJobsAtOnceDoNotMeet) {
  // Each mpirun derives its own port and token, so concurrent jobs on one host stay apart.
  const std::string bench = absl::StrCat(Mpirun(2), BinPath("crosslink-bench"),
                                         " allreduce --min-bytes 64K --max-bytes 64K --iters 2");
  const ShellRun both = RunShell(absl::StrCat(bench, " > /dev/null & a=$!; ", bench,
                                              " > /dev/null; b=$?; wait $a; echo \"exits $? $b\""),
                                 180);
  EXPECT_THAT(both.output, HasSubstr("exits 0 0")) << both.output;
}

}  // namespace
}  // namespace crosslink::testing
