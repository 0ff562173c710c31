// crosslink-run --netns for real: 8 ranks of crosslink-bench in their own network namespaces over
// veth links shaped and cut by a copy of starlink-shell1-faults at 50 Mbit/s. Every result is
// right, the time stays within 1.3x the simulator's oracle, and no namespace is left afterwards.
// Needs root and iproute2; skips otherwise.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "real_launcher_util.h"

namespace crosslink::testing {
namespace {

using ::testing::HasSubstr;

TEST(NetnsTest, EightRanksOverKernelLinksMatchTheOracleAndLeaveNothing) {
  if (geteuid() != 0) GTEST_SKIP() << "--netns needs root";
  if (!HaveTool("ip") || !HaveTool("tc")) GTEST_SKIP() << "iproute2 (ip, tc) not installed";
  std::ifstream in(SourcePath("bench/scenarios/starlink-shell1-faults.toml"));
  std::stringstream text;
  text << in.rdbuf();
  char dir[] = "/tmp/crosslink-netns-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string scenario = absl::StrCat(dir, "/starlink-50m.toml");
  std::ofstream(scenario) << absl::StrReplaceAll(text.str(),
                                                 {{"rate_bps = 100e9", "rate_bps = 50e6"}});
  const ShellRun run =
      RunShell(absl::StrCat("CROSSLINK_ORBIT_START_S=238 ", BinPath("crosslink-run"),
                            " --netns --output raw -n 8 --scenario ", scenario, " -- ",
                            BinPath("crosslink-bench"), " allreduce --scenario ", scenario,
                            " --min-bytes 1M --max-bytes 1M --iters 5 --warmup 1 --timeout 60"),
               280);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Out of bounds values : 0 OK"));
  const std::vector<BenchRowKey> rows = BenchRows(run.output);
  ASSERT_EQ(rows.size(), 1u) << run.output;
  EXPECT_EQ(rows[0].wrong, "0");
  EXPECT_EQ(rows[0].participants, "8");
  // bound_ratio is column 11 of the row.
  for (absl::string_view line : absl::StrSplit(run.output, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 14 || f[0] != "crosslink") continue;
    double ratio = 0;
    ASSERT_TRUE(absl::SimpleAtod(f[10], &ratio)) << line;
    EXPECT_LE(ratio, 1.3) << line;
  }
  // Nothing of this job's namespaces is left.
  const ShellRun list = RunShell("ip netns list | grep '^xl' || true", 30);
  EXPECT_EQ(list.output, "") << list.output;
  RunShell(absl::StrCat("rm -rf ", dir), 30);
}

}  // namespace
}  // namespace crosslink::testing
