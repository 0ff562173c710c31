// crosslink-run --netns for real: ranks of crosslink-bench (and train_fashion_mnist) in their own
// network namespaces over veth links shaped and cut by a copy of starlink-shell1-faults at
// 50 Mbit/s. The driver's log (each link change and the route the kernel then takes, in orbit
// seconds) and the bench's orbit window of every timed iteration show which outages each run met:
//   - a predicted outage of a ring link during the timed run: every result right, within 1.3x
//     the simulator's oracle;
//   - a surprise fault (in the true plan only) cutting a link mid-collective: the kernel takes the
//     detour, every result right;
//   - a radiation reset isolating a rank mid-collective: the connections notice the dead kernel
//     links within the dead-link timeout, resume once the links are back (chunks resent), every
//     result right;
// that nothing is left (no namespace, no veth) after a normal exit, Ctrl-C (also while the
// namespaces are built), SIGTERM or a rank killed from outside, nor, once the next launcher has
// started, after the launcher was killed; that train_fashion_mnist trains to the same result as
// over emulated links; and that without root the launcher refuses at once, saying why.
// Needs root and iproute2; skips otherwise.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "real_launcher_util.h"

namespace crosslink::testing {
namespace {

using ::testing::HasSubstr;

// "[crosslink-run --netns] orbit 248.90 s: P0S3 - P1S3 polar": a link of the topology changed.
struct LinkChange {
  double t_s = 0;
  std::string a, b, state;  // state: "up" or the cause of the outage
};
// "[crosslink-run --netns] orbit 248.90 s: rank 3 -> rank 4 over P0S3 - P0S4 - P1S4 - P1S3".
struct Reroute {
  double t_s = 0;
  int from = -1, to = -1;
  std::string route;
};

constexpr absl::string_view kDriverPrefix = "[crosslink-run --netns] orbit ";

// The driver's lines of `output`, split at "orbit T s: ".
std::vector<std::pair<double, std::string>> DriverLines(const std::string& output) {
  std::vector<std::pair<double, std::string>> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    const size_t at = line.find(kDriverPrefix);
    if (at == absl::string_view::npos) continue;
    line.remove_prefix(at + kDriverPrefix.size());
    const size_t s = line.find(" s: ");
    double t = 0;
    if (s == absl::string_view::npos || !absl::SimpleAtod(line.substr(0, s), &t)) continue;
    lines.emplace_back(t, std::string(line.substr(s + 4)));
  }
  return lines;
}

std::vector<LinkChange> LinkChanges(const std::string& output) {
  std::vector<LinkChange> changes;
  for (const auto& [t, text] : DriverLines(output)) {
    std::vector<std::string> f = absl::StrSplit(text, ' ', absl::SkipEmpty());
    if (f.size() != 4 || f[1] != "-") continue;
    changes.push_back({t, f[0], f[2], f[3]});
  }
  return changes;
}

std::vector<Reroute> Reroutes(const std::string& output) {
  std::vector<Reroute> reroutes;
  for (const auto& [t, text] : DriverLines(output)) {
    std::vector<std::string> f = absl::StrSplit(text, ' ', absl::SkipEmpty());
    if (f.size() < 7 || f[0] != "rank" || f[3] != "rank" || f[5] != "over") continue;
    Reroute r{t, -1, -1, ""};
    if (!absl::SimpleAtoi(f[1], &r.from) || !absl::SimpleAtoi(f[4], &r.to)) continue;
    r.route = text.substr(text.find(" over ") + 6);
    reroutes.push_back(r);
  }
  return reroutes;
}

// "# orbit s of the timed iterations of N bytes (rank 0): a-b c-d ...": [start, end] per iteration.
std::vector<std::pair<double, double>> IterationWindows(const std::string& output) {
  std::vector<std::pair<double, double>> windows;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StrContains(line, "# orbit s of the timed iterations")) continue;
    line.remove_prefix(line.find("):") + 2);
    for (absl::string_view w : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> ends = absl::StrSplit(w, '-');
      double a = 0, b = 0;
      if (absl::SimpleAtod(ends.first, &a) && absl::SimpleAtod(ends.second, &b)) {
        windows.emplace_back(a, b);
      }
    }
  }
  return windows;
}

// Column `column` (0-based: 10 bound ratio, 12 resent) of the crosslink row.
double RowColumn(const std::string& output, int column) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    double value = 0;
    if (f.size() >= 14 && f[0] == "crosslink" && absl::SimpleAtod(f[column], &value)) return value;
  }
  return -1;
}

// The launcher's pid, printed by the shell line that then execs it ("launcher-pid N").
std::string LauncherPid(const std::string& output) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "launcher-pid ")) return std::string(line.substr(13));
  }
  return "";
}

// What the launcher with this pid left behind: its namespaces (xl<pid>-n<i>) and its control
// veths in this namespace (xl<pid>c<r>). Empty when nothing.
std::string LeftBehind(const std::string& pid) {
  return RunShell(absl::StrCat("ip netns list | grep '^xl", pid, "-'; ip -o link show | grep 'xl",
                               pid, "c' || true"),
                  30)
      .output;
}

// Starts what follows as a background job whose SIGINT is not ignored: a non-interactive shell
// starts background commands with SIGINT ignored (so a terminal's Ctrl-C spares them), unless job
// control (set -m) is on. If the test's deadline kills the shell first, the job goes too.
constexpr absl::string_view kBackgroundLauncher =
    "trap 'kill -KILL $pid 2>/dev/null; exit 124' TERM; set -m; ";

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "--netns needs root";
    if (!HaveTool("ip") || !HaveTool("tc")) GTEST_SKIP() << "iproute2 (ip, tc) not installed";
    std::ifstream in(SourcePath("bench/scenarios/starlink-shell1-faults.toml"));
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_NE(mkdtemp(dir_), nullptr);
    made_dir_ = true;
    scenario_ = absl::StrCat(dir_, "/starlink-50m.toml");
    std::ofstream(scenario_) << absl::StrReplaceAll(text.str(),
                                                    {{"rate_bps = 100e9", "rate_bps = 50e6"}});
  }
  void TearDown() override {
    if (made_dir_) RunShell(absl::StrCat("rm -rf ", dir_), 30);
  }

  // crosslink-run --netns of `ranks` crosslink-bench ranks from orbit `start_s`, playing
  // `window_s` orbit seconds, with allreduces of `bytes` ("1M"); its pid comes first in the output.
  // The tests of an outage at orbit T start at T - 7 s and time at least 9 s of iterations at
  // 50 Mbit/s (an allreduce of 1 MiB over 8 ranks takes 0.29 s or more, of 2 MiB 0.58 s), so that
  // T falls inside the timed run whether the ranks take 0.5 s (an idle machine) or 6 s (load 17
  // on two cores) from the clock's start to their first timed iteration.
  ShellRun RunBench(int ranks, double start_s, double window_s, const std::string& bytes, int iters,
                    int timeout_s) {
    return RunShell(
        absl::StrCat("echo launcher-pid $$; CROSSLINK_ORBIT_START_S=", start_s,
                     " CROSSLINK_NETNS_WINDOW_S=", window_s, " exec ", BinPath("crosslink-run"),
                     " --netns --output raw -n ", ranks, " --scenario ", scenario_, " -- ",
                     BinPath("crosslink-bench"), " allreduce --scenario ", scenario_,
                     " --min-bytes ", bytes, " --max-bytes ", bytes, " --iters ", iters,
                     " --warmup 1 --timeout 60"),
        timeout_s);
  }

  // Runs crosslink-run --netns of `ranks` long-running bench ranks in the background, waits until
  // rank 0 has joined (its header), runs `action` (with $pid the launcher's) and reports how the
  // launcher ended: "launcher-pid N", "launcher-exit CODE after S s", then its output.
  ShellRun RunAndDisturb(int ranks, const std::string& action) {
    const std::string out = absl::StrCat(dir_, "/out.txt");
    return RunShell(
        absl::StrCat(
            kBackgroundLauncher, "CROSSLINK_NETNS_WINDOW_S=60 ", BinPath("crosslink-run"),
            " --netns --output raw -n ", ranks, " --scenario ", scenario_, " -- ",
            BinPath("crosslink-bench"), " allreduce --scenario ", scenario_,
            " --min-bytes 64K --max-bytes 64K --iters 1000000 --warmup 1 --timeout 60 >", out,
            " 2>&1 & pid=$!; set +m; echo launcher-pid $pid; for i in $(seq 600); do grep -q ",
            "'crosslink-bench allreduce:' ", out, " && break; sleep 0.1; done; ", action,
            "; t0=$(date +%s%N); wait $pid; code=$?; echo launcher-exit $code after ",
            "$(( ($(date +%s%N) - t0) / 1000000000 )) s; cat ", out),
        150);
  }

  char dir_[40] = "/tmp/crosslink-netns-test-XXXXXX";
  bool made_dir_ = false;
  std::string scenario_;
};

// Checks RunAndDisturb's report of a 3-rank job that was running: the launcher ended with a
// failure within its grace period and left nothing behind.
void ExpectEndedAndLeftNothing(const ShellRun& run) {
  const std::string pid = LauncherPid(run.output);
  ASSERT_FALSE(pid.empty()) << run.output;
  ASSERT_THAT(run.output, HasSubstr("crosslink-bench allreduce: 3 ranks")) << run.output;
  int code = -1, seconds = -1;
  for (absl::string_view line : absl::StrSplit(run.output, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() == 5 && f[0] == "launcher-exit") {
      ASSERT_TRUE(absl::SimpleAtoi(f[1], &code) && absl::SimpleAtoi(f[3], &seconds)) << line;
    }
  }
  ASSERT_GE(code, 0) << run.output;
  EXPECT_NE(code, 0) << run.output;
  // The launcher's grace period (5 s) and kill-after (2 s) for the ranks to stop, with room for a
  // loaded machine.
  EXPECT_LE(seconds, 30) << run.output;
  EXPECT_EQ(LeftBehind(pid), "") << run.output;
}

// Checks an 8-rank RunBench that ran `iters` timed iterations: exit 0, every result right, all
// 8 ranks in every iteration; *windows gets the iterations' orbit windows.
void ExpectEveryIterationRight(const ShellRun& run, size_t iters,
                               std::vector<std::pair<double, double>>* windows) {
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Out of bounds values : 0 OK"));
  const std::vector<BenchRowKey> rows = BenchRows(run.output);
  ASSERT_EQ(rows.size(), 1u) << run.output;
  EXPECT_EQ(rows[0].wrong, "0");
  EXPECT_EQ(rows[0].participants, "8");
  *windows = IterationWindows(run.output);
  ASSERT_EQ(windows->size(), iters) << run.output;
}

// Which iteration window holds orbit time t strictly inside (mid-collective); -1 if none.
int IterationAt(const std::vector<std::pair<double, double>>& windows, double t) {
  for (size_t i = 0; i < windows.size(); ++i) {
    if (windows[i].first < t && t < windows[i].second) return static_cast<int>(i);
  }
  return -1;
}

TEST_F(NetnsTest, WithoutRootFailsAtOnceWithAClearError) {
  if (!HaveTool("setpriv")) GTEST_SKIP() << "setpriv (util-linux) not installed";
  // As nobody: the launcher refuses before it builds anything.
  const ShellRun run = RunShell(
      absl::StrCat("cd /; setpriv --reuid=65534 --regid=65534 --clear-groups ",
                   BinPath("crosslink-run"), " --netns -n 2 --scenario ",
                   SourcePath("bench/scenarios/starlink-shell1-faults.toml"), " -- /bin/true"),
      60);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("need root")) << run.output;
  EXPECT_LT(absl::ToDoubleSeconds(run.wall), 10) << run.output;
}

TEST_F(NetnsTest, EightRanksCrossAPredictedOutageWithinTheOracleBound) {
  // P0S3 - P1S3 (ranks 3 and 4, a link of the rank-order ring) goes down at orbit 248.86 s
  // (polar cut-off, predicted).
  const ShellRun run = RunBench(8, 241.9, 120, "1M", 32, 200);
  std::vector<std::pair<double, double>> windows;
  ASSERT_NO_FATAL_FAILURE(ExpectEveryIterationRight(run, 32, &windows));
  EXPECT_LE(RowColumn(run.output, 10), 1.3) << run.output;
  // The outage happened in the kernel during the timed iterations, and the kernel took a route
  // around it.
  bool crossed = false;
  for (const LinkChange& c : LinkChanges(run.output)) {
    if (c.a == "P0S3" && c.b == "P1S3" && c.state == "polar") {
      crossed = windows.front().first <= c.t_s && c.t_s <= windows.back().second;
      EXPECT_NEAR(c.t_s, 248.86, 0.5);
    }
  }
  EXPECT_TRUE(crossed) << run.output;
  bool rerouted = false;
  for (const Reroute& r : Reroutes(run.output)) {
    if (r.from == 3 && r.to == 4 && r.route != "unreachable") rerouted = true;
  }
  EXPECT_TRUE(rerouted) << run.output;
  const std::string pid = LauncherPid(run.output);
  ASSERT_FALSE(pid.empty());
  EXPECT_EQ(LeftBehind(pid), "");
}

TEST_F(NetnsTest, SurpriseFaultCutsALinkMidCollectiveAndTheKernelDetoursAroundIt) {
  // P1S3 - P1S2 (ranks 4 and 5) fails at orbit 328.04 s: a fault of the true plan, which the
  // predicted plan the ranks plan with does not know.
  constexpr double kFaultS = 328.04;
  const ShellRun run = RunBench(8, 321.0, 60, "2M", 16, 200);
  std::vector<std::pair<double, double>> windows;
  ASSERT_NO_FATAL_FAILURE(ExpectEveryIterationRight(run, 16, &windows));
  double cut_s = -1;
  for (const LinkChange& c : LinkChanges(run.output)) {
    if (c.a == "P1S3" && c.b == "P1S2" && c.state == "fault") cut_s = c.t_s;
  }
  ASSERT_GE(cut_s, 0) << run.output;
  EXPECT_NEAR(cut_s, kFaultS, 0.5);
  EXPECT_GE(IterationAt(windows, cut_s), 0)
      << "the cut at orbit " << cut_s << " s fell between iterations\n"
      << run.output;
  bool detoured = false;
  for (const Reroute& r : Reroutes(run.output)) {
    if (r.from == 4 && r.to == 5 && r.t_s == cut_s) {
      detoured = r.route != "unreachable" && r.route != "P1S3 - P1S2";
    }
  }
  EXPECT_TRUE(detoured) << run.output;

  // A surprise indeed: the predicted plan has the link up then.
  std::ifstream in(scenario_);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<linkmodel::Scenario> scenario =
      linkmodel::ParseScenario(text.str(), "starlink-50m", dir_);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<linkmodel::ScenarioPlans> plans = linkmodel::BuildScenarioPlans(*scenario);
  ASSERT_TRUE(plans.ok()) << plans.status();
  const auto& names = plans->predicted.satellite_names();
  const int p1s2 = static_cast<int>(std::find(names.begin(), names.end(), "P1S2") - names.begin());
  const int p1s3 = static_cast<int>(std::find(names.begin(), names.end(), "P1S3") - names.begin());
  // (The log rounds the orbit time to 10 ms.)
  const double fault_s = cut_s + 0.01;
  EXPECT_EQ(plans->predicted.StateAt(p1s2, p1s3, fault_s), linkmodel::LinkState::kUp);
  EXPECT_EQ(plans->truth.StateAt(p1s2, p1s3, fault_s), linkmodel::LinkState::kFault);
  EXPECT_EQ(LeftBehind(LauncherPid(run.output)), "");
}

TEST_F(NetnsTest, RankIsolatedByAResetMidCollectiveResumesWithinSecondsOfItsReturn) {
  // P1S0 (rank 7) resets at orbit 1838.70 s: its four links fail for 4.4 s and re-acquire for
  // 10 s, so no route reaches it until 1853.11 s. Its connections see no acknowledgement; after
  // the dead-link timeout (5 s under --netns) they fail, and the resumable links redial until the
  // kernel links are back.
  const ShellRun run = RunBench(8, 1831.7, 60, "2M", 16, 200);
  std::vector<std::pair<double, double>> windows;
  ASSERT_NO_FATAL_FAILURE(ExpectEveryIterationRight(run, 16, &windows));
  // Rank 7's connections broke on the dead-link timeout (ETIMEDOUT: no acknowledgement for 5 s,
  // not a reset or a close) and resumed. (Whether a message has to be sent again, the `resent`
  // column, depends on where in the collective the reset struck.)
  EXPECT_THAT(run.output, HasSubstr("Connection timed out); resuming")) << run.output;
  int resumed = 0;
  for (absl::string_view line : absl::StrSplit(run.output, '\n')) {
    if (absl::StartsWith(line, "[crosslink] rank 7 -> rank ") &&
        absl::StrContains(line, " resumed over ")) {
      ++resumed;
    }
  }
  EXPECT_GT(resumed, 0) << run.output;
  double cut_s = -1, back_s = -1;
  for (const LinkChange& c : LinkChanges(run.output)) {
    if (c.a != "P0S0" || c.b != "P1S0") continue;
    if (c.state == "fault" && cut_s < 0) cut_s = c.t_s;
    if (c.state == "up" && cut_s >= 0 && back_s < 0) back_s = c.t_s;
  }
  ASSERT_GE(cut_s, 0) << run.output;
  ASSERT_GT(back_s, cut_s) << run.output;
  const int cut_iteration = IterationAt(windows, cut_s);
  ASSERT_GE(cut_iteration, 0) << "the reset at orbit " << cut_s << " s fell between iterations\n"
                              << run.output;
  // While isolated every route to rank 7 is gone.
  bool unreachable = false;
  for (const Reroute& r : Reroutes(run.output)) {
    if (r.t_s == cut_s && r.to == 7 && r.route == "unreachable") unreachable = true;
  }
  EXPECT_TRUE(unreachable) << run.output;
  // While rank 7 is isolated no iteration that began after the cut can end: each needs rank 7's
  // contribution. The one in flight at the cut may (these windows are rank 0's: when the cut
  // comes after rank 7's last message to the others, rank 0 finishes without it, which on a
  // loaded machine happened). The first iteration to end after the links' return was blocked by
  // the isolation and ends within seconds of the return (TCP on its own would wait out a
  // retransmission timer backed off to ~13 s).
  int first_after_return = -1;
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto [start_s, end_s] = windows[i];
    if (end_s > cut_s && end_s < back_s) {
      EXPECT_LT(start_s, cut_s) << "iteration " << i << " began after the reset at " << cut_s
                                << " s and ended before the return at " << back_s << " s\n"
                                << run.output;
    }
    if (end_s > back_s && first_after_return < 0) first_after_return = static_cast<int>(i);
  }
  ASSERT_GE(first_after_return, cut_iteration) << run.output;
  EXPECT_LT(windows[first_after_return].first, back_s)
      << "no iteration was in flight across the isolation\n"
      << run.output;
  EXPECT_LT(windows[first_after_return].second, back_s + 5.0) << run.output;
  EXPECT_EQ(LeftBehind(LauncherPid(run.output)), "");
}

class NetnsSignalTest : public NetnsTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(NetnsSignalTest, LeavesNothingBehind) {
  const ShellRun run = RunAndDisturb(3, absl::StrCat("kill -", GetParam(), " $pid"));
  ExpectEndedAndLeftNothing(run);
}

INSTANTIATE_TEST_SUITE_P(CtrlCAndTerm, NetnsSignalTest, ::testing::Values("INT", "TERM"));

TEST_F(NetnsTest, CtrlCWhileTheNamespacesAreBuiltLeavesNothingBehind) {
  // 8 ranks with their relays take seconds to build; the signal lands meanwhile (or, on a fast
  // machine, just after): either way nothing may stay.
  const ShellRun run = RunShell(
      absl::StrCat(
          kBackgroundLauncher, "CROSSLINK_ORBIT_START_S=244 CROSSLINK_NETNS_WINDOW_S=120 ",
          BinPath("crosslink-run"), " --netns -n 8 --scenario ", scenario_, " -- ",
          BinPath("crosslink-bench"), " allreduce --scenario ", scenario_,
          " --min-bytes 1M --max-bytes 1M --iters 100000 & pid=$!; set +m; echo "
          "launcher-pid $pid; sleep 0.5; kill -INT $pid; wait $pid; echo launcher-exit $?"),
      120);
  const std::string pid = LauncherPid(run.output);
  ASSERT_FALSE(pid.empty()) << run.output;
  ASSERT_THAT(run.output, HasSubstr("launcher-exit")) << run.output;
  EXPECT_EQ(LeftBehind(pid), "") << run.output;
}

TEST_F(NetnsTest, RankKilledFromOutsideEndsTheJobAndLeavesNothingBehind) {
  // SIGKILL to whatever runs in rank 1's namespace (xl<pid>-n1).
  const ShellRun run = RunAndDisturb(3, "kill -KILL $(ip netns pids xl${pid}-n1)");
  ExpectEndedAndLeftNothing(run);
  EXPECT_THAT(run.output, HasSubstr("rank 1 failed first: was killed by signal 9")) << run.output;
}

TEST_F(NetnsTest, KilledLauncherTakesItsRanksAlongAndTheNextLauncherSweepsItsNamespaces) {
  // SIGKILL leaves the launcher no chance to clean up: its ranks must die with it (so nothing
  // holds the namespaces) and the next --netns launcher removes what is left.
  const ShellRun run = RunAndDisturb(
      2,
      "kill -KILL $pid; sleep 2; for n in $(ip netns list | grep \"^xl$pid-\" | cut -d' ' -f1); "
      "do ip netns pids $n | sed \"s/^/still running in $n: /\"; done");
  const std::string pid = LauncherPid(run.output);
  ASSERT_FALSE(pid.empty()) << run.output;
  ASSERT_THAT(run.output, HasSubstr("crosslink-bench allreduce: 2 ranks")) << run.output;
  EXPECT_THAT(run.output, ::testing::Not(HasSubstr("still running in"))) << run.output;
  const ShellRun next = RunBench(2, 0, 30, "1M", 1, 120);
  EXPECT_EQ(next.exit_code, 0) << next.output;
  EXPECT_EQ(LeftBehind(pid), "") << run.output;
  EXPECT_EQ(LeftBehind(LauncherPid(next.output)), "") << next.output;
}

TEST_F(NetnsTest, TrainsFashionMnistUnchangedAsWithEmulatedLinks) {
  if (const std::string why = FashionMnistSkipReason(); !why.empty()) GTEST_SKIP() << why;
  // A short run, as the Slurm test's: one epoch over 1000 examples, 4 ranks (P0S0..P0S3), under
  // --netns and, at the same time (the training is seeded), with the links emulated in-process.
  const std::string plain = absl::StrCat(dir_, "/plain.txt");
  const std::string train =
      absl::StrCat(" --scenario ", scenario_, " -- ", BinPath("train_fashion_mnist"),
                   " --epochs 1 --train-limit 1000");
  const ShellRun run = RunShell(
      absl::StrCat(BinPath("crosslink-run"), " -n 4", train, " >", plain,
                   " 2>&1 & plain=$!; trap 'kill $plain' TERM; (echo launcher-pid $BASHPID; ",
                   "CROSSLINK_NETNS_WINDOW_S=300 exec ", BinPath("crosslink-run"), " --netns -n 4",
                   train, "); echo netns-exit $?; wait $plain; echo plain-exit $?"),
      240);
  ASSERT_THAT(run.output, HasSubstr("netns-exit 0")) << run.output;
  ASSERT_THAT(run.output, HasSubstr("plain-exit 0")) << run.output;
  const std::string result = FinalResult(run.output);
  ASSERT_FALSE(result.empty()) << run.output;
  std::ifstream in(plain);
  std::stringstream emulated;
  emulated << in.rdbuf();
  EXPECT_EQ(result, FinalResult(emulated.str())) << run.output << "\n---\n" << emulated.str();
  EXPECT_EQ(LeftBehind(LauncherPid(run.output)), "");
}

}  // namespace
}  // namespace crosslink::testing
