// Slurm for real: a single-node cluster from Debian's slurm-wlm and munge
// (examples/slurm/local-cluster.sh), on which `srun -n 4` and `sbatch` of the example scripts run
// crosslink-bench and train_fashion_mnist. Ranks come from SLURM_* variables and the coordinator
// from the node list (no MASTER_* set by the test); results must equal crosslink-run's for the
// same job. Needs root and the packages; skips with the reason otherwise. The cluster lives in a
// temporary folder, on ports of its own, and is stopped after the suite (a watcher stops it if
// this process dies first).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "real_launcher_util.h"

namespace crosslink::testing {
namespace {

using ::testing::HasSubstr;

std::string& ClusterDir() {
  static std::string dir;
  return dir;
}
std::string& SkipReason() {
  static std::string reason;
  return reason;
}

std::string Script() { return SourcePath("examples/slurm/local-cluster.sh"); }

// Commands run with the cluster's slurm.conf, in the cluster's folder (output files land there).
std::string InCluster(const std::string& command) {
  return absl::StrCat("cd ", ClusterDir(), " && export SLURM_CONF=", ClusterDir(),
                      "/slurm.conf && ", command);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SlurmClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      SkipReason() = "needs root to run slurmctld, slurmd and munged";
      return;
    }
    for (const char* tool : {"munged", "slurmctld", "slurmd", "srun", "sbatch"}) {
      if (!HaveTool(tool)) {
        SkipReason() = absl::StrCat(tool, " not installed (apt-get install slurm-wlm munge)");
        return;
      }
    }
    char dir[] = "/tmp/crosslink-slurm-test-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      SkipReason() = "cannot make a temporary folder";
      return;
    }
    ClusterDir() = dir;
    // Ports of our own (a developer's cluster may hold the default ones).
    const int port = 17000 + 2 * (getpid() % 400);
    const ShellRun start = RunShell(
        absl::StrCat("CROSSLINK_SLURM_OWNER_PID=", getpid(), " CROSSLINK_SLURM_PORT=", port, " ",
                     Script(), " start ", ClusterDir()),
        120);
    if (start.exit_code != 0) {
      // Not a skip: with root and the packages present the cluster must come up.
      SkipReason() = "";
      FAIL() << "local-cluster.sh start failed (" << start.exit_code << "):\n" << start.output;
    }
  }

  static void TearDownTestSuite() {
    if (ClusterDir().empty()) return;
    const ShellRun stop = RunShell(absl::StrCat(Script(), " stop ", ClusterDir()), 60);
    EXPECT_EQ(stop.exit_code, 0) << stop.output;
    // Nothing of the cluster outlives the suite.
    EXPECT_NE(RunShell(absl::StrCat("test -e ", ClusterDir()), 10).exit_code, 0);
    ClusterDir().clear();
  }

  void SetUp() override {
    if (!SkipReason().empty()) GTEST_SKIP() << SkipReason();
    ASSERT_FALSE(ClusterDir().empty());
  }
};

constexpr char kBenchArgs[] =
    " --min-bytes 4K --max-bytes 256K --step-factor 4 --iters 3 --warmup 1 --timeout 60";

std::vector<BenchRowKey> CrosslinkRunRows() {
  static const std::vector<BenchRowKey> rows = [] {
    const ShellRun run =
        RunShell(absl::StrCat(BinPath("crosslink-bench"), " allreduce --ranks 4", kBenchArgs), 180);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return BenchRows(run.output);
  }();
  return rows;
}

TEST_F(SlurmClusterTest, SrunStartsFourRanksThatFindTheCoordinatorFromTheNodeList) {
  const ShellRun run = RunShell(
      InCluster(absl::StrCat("env -u MASTER_ADDR -u MASTER_PORT CROSSLINK_JOB_TOKEN=t1 srun -n 4 ",
                             BinPath("crosslink-bench"), " allreduce", kBenchArgs)),
      180);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("crosslink-bench allreduce: 4 ranks"));
  const std::vector<BenchRowKey> rows = BenchRows(run.output);
  ASSERT_EQ(rows.size(), 4u) << run.output;
  EXPECT_EQ(rows, CrosslinkRunRows()) << Describe(rows);
  for (const BenchRowKey& row : rows) EXPECT_EQ(row.wrong, "0");
}

TEST_F(SlurmClusterTest, SbatchOfTheBenchScriptMatchesCrosslinkRun) {
  const ShellRun run = RunShell(
      InCluster(absl::StrCat(
          "CROSSLINK_BIN=", CROSSLINK_BIN_DIR, " sbatch --wait --output=bench-%j.out ",
          SourcePath("examples/slurm/crosslink_bench.sbatch"), kBenchArgs, " && cat bench-*.out")),
      240);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("crosslink-bench allreduce: 4 ranks"));
  EXPECT_THAT(run.output, HasSubstr("Out of bounds values : 0 OK"));
  const std::vector<BenchRowKey> rows = BenchRows(run.output);
  EXPECT_EQ(rows, CrosslinkRunRows()) << Describe(rows);
}

TEST_F(SlurmClusterTest, SbatchTrainsFashionMnistAsCrosslinkRunDoes) {
  if (const std::string why = FashionMnistSkipReason(); !why.empty()) GTEST_SKIP() << why;
  // A short run: one epoch over 1000 examples; seeded, so every launcher gives the same model.
  const std::string train_args = " --epochs 1 --train-limit 1000";
  const ShellRun slurm = RunShell(
      InCluster(absl::StrCat(
          "CROSSLINK_GPUS_PER_TASK=0 CROSSLINK_BIN=", CROSSLINK_BIN_DIR,
          " sbatch --wait --nodes=1 --ntasks-per-node=4 --gpus-per-node=0 --cpus-per-task=1 "
          "--output=train-%j.out ",
          SourcePath("examples/slurm/train_fashion_mnist.sbatch"), train_args,
          " && cat train-*.out && ls fashion-mnist-*.csv")),
      300);
  ASSERT_EQ(slurm.exit_code, 0) << slurm.output;
  const ShellRun local = RunShell(absl::StrCat(BinPath("crosslink-run"), " -n 4 -- ",
                                               BinPath("train_fashion_mnist"), train_args),
                                  300);
  ASSERT_EQ(local.exit_code, 0) << local.output;
  const std::string result = FinalResult(slurm.output);
  ASSERT_FALSE(result.empty()) << slurm.output;
  EXPECT_EQ(result, FinalResult(local.output)) << slurm.output << "\n---\n" << local.output;
}

}  // namespace
}  // namespace crosslink::testing
