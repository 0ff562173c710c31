// End-to-end tests of crosslink-run: the real binary starts real rank processes (the helper
// programs in tests/runtime/programs), and the tests check what a user relies on: the environment
// each rank sees, the exit code and summary naming the failed rank, that survivors of a killed rank
// fail fast with an error naming it, and that --timeout ends a hung job. Every run passes --timeout
// so that a regression fails the test instead of hanging it.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together, as a user sees them.
  absl::Duration wall;
};

std::string Bin(const std::string& name) { return std::string(CROSSLINK_BIN_DIR) + "/" + name; }

// Runs program `tool` of the bin folder with `args`.
RunResult RunTool(const std::string& tool, const std::string& args) {
  const std::string command = absl::StrCat(Bin(tool), " ", args, " 2>&1");
  RunResult run;
  const absl::Time start = absl::Now();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.wall = absl::Now() - start;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

RunResult CrosslinkRun(const std::string& args) { return RunTool("crosslink-run", args); }

// The lines rank `rank` printed, without the "[rank i] " prefix.
std::vector<std::string> RankLines(const std::string& output, int rank) {
  const std::string prefix = absl::StrCat("[rank ", rank, "] ");
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, prefix)) lines.emplace_back(line.substr(prefix.size()));
  }
  return lines;
}

TEST(LauncherTest, AllRanksSucceedAndEachSeesItsEnvironment) {
  const std::string scenario = testing::TempDir() + "/launcher_test_scenario.toml";
  std::ofstream(scenario) << "name = \"launcher-test\"\nranks = 3\n";
  const RunResult run = CrosslinkRun(absl::StrCat("-n 3 --timeout 60 --scenario ", scenario, " -- ",
                                                  Bin("crosslink-test-rank-env")));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string job, master;
  for (int r = 0; r < 3; ++r) {
    const std::vector<std::string> lines = RankLines(run.output, r);
    ASSERT_EQ(lines.size(), 1u) << run.output;
    const std::string& line = lines[0];
    EXPECT_THAT(line, HasSubstr(absl::StrCat("env rank=", r, " world=3 local_rank=", r,
                                             " local_world=3 master=127.0.0.1:")));
    EXPECT_THAT(line, HasSubstr("token_len=32"));
    EXPECT_THAT(line, HasSubstr("addresses=127.0.0.1:40000,127.0.0.1:40001,127.0.0.1:40002 "));
    EXPECT_THAT(line, HasSubstr("scenario_line=name = \"launcher-test\""));
    EXPECT_THAT(line, HasSubstr("launcher_test_scenario.toml"));
    // Every rank is in the same job, talking to the same coordinator.
    const std::string this_job =
        line.substr(line.find(" job="), line.find(" addresses=") - line.find(" job="));
    const std::string this_master =
        line.substr(line.find("master="), line.find(" token_len") - line.find("master="));
    if (r == 0) {
      job = this_job;
      master = this_master;
    }
    EXPECT_EQ(this_job, job);
    EXPECT_EQ(this_master, master);
  }
  EXPECT_THAT(run.output, HasSubstr("all 3 ranks exited with status 0"));
}

TEST(LauncherTest, FailingRankSetsExitCodeAndIsNamed) {
  const RunResult run =
      CrosslinkRun(absl::StrCat("-n 3 --timeout 60 -- ", Bin("crosslink-test-exit-code"), " 3 1"));
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_THAT(run.output, HasSubstr("rank 1 failed first: exited with status 3"));
}

TEST(LauncherTest, MinRanksKeepsTheJobGoingAfterAFailure) {
  // Ranks 0 and 2 still run when rank 1 fails (they wait for its exit's report), so with
  // --min-ranks 2 the job goes on and exits 0 because they do.
  const RunResult run = CrosslinkRun(absl::StrCat("-n 3 --min-ranks 2 --grace 30 --timeout 60 -- ",
                                                  Bin("crosslink-test-exit-code"), " 3 1 wait"));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("ranks [1] failed and the job went on without them"));
  EXPECT_THAT(run.output, HasSubstr("ranks [0, 2] exited 0"));
  EXPECT_LT(run.wall, absl::Seconds(15)) << run.output;  // not ended by the 30 s grace period
}

TEST(LauncherTest, FailureBelowMinRanksEndsTheJobAsWithout) {
  const RunResult run = CrosslinkRun(absl::StrCat("-n 3 --min-ranks 3 --timeout 60 -- ",
                                                  Bin("crosslink-test-exit-code"), " 3 1 wait"));
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_THAT(run.output, HasSubstr("rank 1 failed first: exited with status 3"));
}

// Restarts pending when every rank has failed are dropped (no job is left to rejoin); the job
// then has fewer ranks that finished than --min-ranks, so it failed, whatever it tolerated on
// the way.
TEST(LauncherTest, AJobWhoseEveryRankFailedWhileRestartsWerePendingFails) {
  const RunResult run = CrosslinkRun(
      "-n 2 --min-ranks 1 --max-restarts 1 --timeout 60 -- /bin/sh -c "
      "'if [ \"$RANK\" = 1 ]; then exit 3; fi; sleep 0.2; exit 4'");
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("failed first: exited with status")) << run.output;
}

TEST(LauncherTest, SurvivorsOfAKilledRankFailFastNamingIt) {
  // A 30 s grace period: if the survivors did not learn of the death through the coordinator,
  // only the launcher's SIGTERM at 30 s would end them.
  const RunResult run = CrosslinkRun(
      absl::StrCat("-n 3 --grace 30 --timeout 60 -- ", Bin("crosslink-test-barrier-victim"), " 1"));
  EXPECT_EQ(run.exit_code, 128 + 9) << run.output;
  EXPECT_THAT(run.output, HasSubstr("rank 1 failed first: was killed by signal 9 (SIGKILL)"));
  for (int survivor : {0, 2}) {
    const std::vector<std::string> lines = RankLines(run.output, survivor);
    ASSERT_EQ(lines.size(), 1u) << run.output;
    EXPECT_THAT(lines[0], HasSubstr("barrier result: ABORTED"));
    EXPECT_THAT(lines[0], HasSubstr("rank 1 was killed by signal 9"));
  }
  EXPECT_LT(run.wall, absl::Seconds(15)) << run.output;
}

TEST(LauncherTest, TimeoutKillsAHangingJob) {
  const RunResult run =
      CrosslinkRun(absl::StrCat("-n 2 --timeout 1 -- ", Bin("crosslink-test-hang")));
  EXPECT_EQ(run.exit_code, 124) << run.output;
  EXPECT_THAT(RankLines(run.output, 0), ::testing::ElementsAre("hanging"));
  EXPECT_THAT(RankLines(run.output, 1), ::testing::ElementsAre("hanging"));
  EXPECT_THAT(run.output, HasSubstr("timeout of 1s exceeded"));
  EXPECT_GE(run.wall, absl::Seconds(1));
  EXPECT_LT(run.wall, absl::Seconds(10));  // SIGKILL, although the program ignores SIGTERM.
}

TEST(LauncherTest, SigtermIsForwardedToEveryRank) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const std::string launcher = Bin("crosslink-run");
  const std::string program = Bin("crosslink-test-hang");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    close(out[0]);
    execl(launcher.c_str(), launcher.c_str(), "-n", "2", "--timeout", "60", "--", program.c_str(),
          "term-exits", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  // Wait (polling with a deadline) until both ranks run, then signal the launcher only.
  std::string output;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool signalled = false;
  while (absl::Now() < deadline) {
    pollfd fd{out[0], POLLIN, 0};
    if (poll(&fd, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
    if (!signalled && RankLines(output, 0).size() == 1 && RankLines(output, 1).size() == 1) {
      ASSERT_EQ(kill(pid, SIGTERM), 0);
      signalled = true;
    }
  }
  close(out[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(signalled) << output;
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 7) << output;
  EXPECT_THAT(RankLines(output, 0), ::testing::ElementsAre("hanging", "got SIGTERM"));
  EXPECT_THAT(RankLines(output, 1), ::testing::ElementsAre("hanging", "got SIGTERM"));
}

TEST(LauncherTest, BadCommandLinesAreRefused) {
  EXPECT_EQ(CrosslinkRun("-- /bin/true").exit_code, 2);                     // No -n.
  EXPECT_EQ(CrosslinkRun("-n 0 -- /bin/true").exit_code, 2);                // No ranks.
  EXPECT_EQ(CrosslinkRun("-n 2").exit_code, 2);                             // No program.
  EXPECT_EQ(CrosslinkRun("-n 2 --min-ranks 3 -- /bin/true").exit_code, 2);  // More than -n.
  EXPECT_EQ(CrosslinkRun("-n 2 --min-ranks 0 -- /bin/true").exit_code, 2);
  const RunResult missing = CrosslinkRun("-n 2 -- /nonexistent/program");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("/nonexistent/program"));
  const RunResult unknown = CrosslinkRun("-n 2 --bogus 1 -- /bin/true");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown flag '--bogus'"));
  const RunResult bad = CrosslinkRun("-n 2 --timeout=soon -- /bin/true");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("--timeout"));
}

TEST(LauncherTest, HelpListsEveryFlagAndExitsZero) {
  const RunResult help = CrosslinkRun("--help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  for (const char* flag :
       {"-n, --num-ranks", "--scenario", "--timeout", "--port", "--grace", "--output"}) {
    EXPECT_THAT(help.output, HasSubstr(flag));
  }
  // After the program, --help is the program's: crosslink-run passes it on untouched.
  const RunResult passed = CrosslinkRun("-n 1 --output raw -- /bin/echo x --help");
  EXPECT_EQ(passed.exit_code, 0) << passed.output;
  EXPECT_THAT(passed.output, HasSubstr("x --help\n"));
  EXPECT_THAT(passed.output, ::testing::Not(HasSubstr("--num-ranks")));
}

// crosslink-bench launches its ranks through the same launcher; its modes have flags of their own.
TEST(LauncherTest, CrosslinkBenchHelpAndUsageErrors) {
  RunResult run = RunTool("crosslink-bench", "--help");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, AllOf(HasSubstr("allreduce"), HasSubstr("orbit")));
  run = RunTool("crosslink-bench", "allreduce --help");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* flag : {"--ranks", "--scenario", "--min-bytes", "--max-bytes", "--step-factor",
                           "--algo", "--baseline", "--transport", "--compress"}) {
    EXPECT_THAT(run.output, HasSubstr(flag));
  }
  run = RunTool("crosslink-bench", "orbit --help");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, AllOf(HasSubstr("--orbit-s"), HasSubstr("--compare")));
  run = RunTool("crosslink-bench", "allreduce --min-bytes 1M --max-bytes 4M --bogus 1");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("unknown flag '--bogus'"));
  run = RunTool("crosslink-bench", "allreduce --min-bytes=1Q --max-bytes 4M");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--min-bytes"));
  run = RunTool("crosslink-bench", "orbit --scenario s.toml --iters 1 --orbit-s 5");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("one of --iters and --orbit-s"));
  EXPECT_EQ(RunTool("crosslink-bench", "gather").exit_code, 2);
}

}  // namespace
