// A CI-sized fault campaign: crosslink-chaos with 4 ranks and at least 100 faults of every kind
// (weighted towards the cheap ones so it fits in about 3 minutes on a loaded 2-core machine)
// must end with no wrong result, no hang, every rank at the same step with the same state hash.
// The properties are read from the CSV the program writes, not from its exit code alone.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/chaos/fault_schedule.h"
#include "gtest/gtest.h"

namespace crosslink::chaos {
namespace {

TEST(ChaosCampaignTest, HundredFaultsOfEveryKindNoWrongResultNoHangEqualHashes) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("chaos_campaign_test.", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string csv = (dir / "chaos.csv").string();
  // Link cuts are frequent and cheap (the resumed link only delays a collective); bit errors and
  // rank faults cost a restart and a rejoin each; a SIGSTOP waits out the heartbeat window.
  const std::string command = absl::StrCat(
      CROSSLINK_BIN_DIR, "/crosslink-chaos --faults 100 --seed 7 --ranks 4 --csv ", csv,
      " --work-dir ", (dir / "work").string(),
      " --link-mtbf-s 4 --link-mttr-s 0.3 --corruption-mtbf-s 60 --weight-kill 3 --weight-stop 1"
      " --weight-coordinator 3 --weight-late-join 1 --late-join-s 1 --hang-s 60 > ",
      (dir / "out.txt").string(), " 2>&1");
  const int status = std::system(command.c_str());
  std::ifstream out_file(dir / "out.txt");
  const std::string output((std::istreambuf_iterator<char>(out_file)),
                           std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;

  std::ifstream in(csv);
  ASSERT_TRUE(in) << "no CSV; output:\n" << output;
  std::map<std::string, int64_t> faults, metrics;
  std::map<std::string, double> max_recovery;
  std::string line;
  bool in_metrics = false;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.empty() || f[0] == "kind") continue;
    if (f[0] == "metric") {
      in_metrics = true;
      continue;
    }
    int64_t n = 0;
    if (in_metrics) {
      double v = 0;
      ASSERT_TRUE(absl::SimpleAtod(f.at(1), &v)) << line;
      metrics[f[0]] = static_cast<int64_t>(v);
    } else {
      ASSERT_TRUE(absl::SimpleAtoi(f.at(1), &n)) << line;
      faults[f[0]] = n;
      double max_s = 0;
      ASSERT_TRUE(absl::SimpleAtod(f.at(4), &max_s)) << line;
      max_recovery[f[0]] = max_s;
    }
  }
  EXPECT_GE(faults["all"], 100) << output;
  for (int k = 0; k < kFaultKinds; ++k) {
    const char* kind = FaultName(static_cast<FaultKind>(k));
    EXPECT_GE(faults[kind], 1) << kind << " never happened\n" << output;
  }
  EXPECT_EQ(metrics["wrong_results"], 0) << output;
  EXPECT_EQ(metrics["hangs"], 0) << output;
  EXPECT_EQ(metrics["hashes_equal"], 1) << output;
  EXPECT_GT(metrics["collectives_completed"], 100) << output;
  // Every fault recovered within the hang deadline (a property, not a timing target).
  EXPECT_LT(max_recovery["all"], 60.0) << output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace crosslink::chaos
