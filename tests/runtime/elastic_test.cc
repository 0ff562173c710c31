// Elastic membership (shrink) end to end: real 4-rank jobs started through the real crosslink-run
// with --min-ranks 2, each rank a crosslink-test-elastic-worker (tests/runtime/programs/
// elastic_worker.cc) running five steps of the elastic training loop while one rank dies in step 2.
// The properties a program relies on: the survivors' collective in the death step fails once with
// kAborted naming the dead rank (and nothing fails later); the next Quorum agrees on epoch 2 and
// the survivors; the later allreduces are exact over the survivors (kAvg divides by 3);
// ShouldCommit is false on every survivor for the death step and true for every other step; the job
// exits 0. When rank 0 dies, rank 1 decides the partial allreduce's agreement instead.
#include <cstdio>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

constexpr int kRanks = 4;
constexpr int kSteps = 5;
constexpr int kDeathStep = 2;  // elastic_worker.cc's

struct Step {
  int64_t epoch = 0;
  std::string live;    // "0,1,3"
  std::string status;  // "OK", "ABORTED", ...
  int commit = -1;
  std::string error;
};

struct ElasticJob {
  int exit_code = -1;
  std::string output;
  std::map<int, std::map<int, Step>> steps;  // by rank, then step
  std::map<int, std::string> results;        // by rank: "OK" or "FAILED: ..."
};

// Runs the worker on kRanks ranks with --min-ranks 2 (and the scenario and environment settings
// such as "CROSSLINK_RESUME=0", when given); parses every rank's step lines.
ElasticJob RunElasticJob(const std::string& worker_args, const std::string& scenario = "",
                         const std::string& environment = "") {
  std::string command = absl::StrCat(environment, " ", CROSSLINK_BIN_DIR, "/crosslink-run -n ",
                                     kRanks, " --min-ranks 2 --timeout 60");
  if (!scenario.empty()) {
    absl::StrAppend(&command, " --scenario ", CROSSLINK_SOURCE_DIR, "/tests/runtime/data/",
                    scenario);
  }
  absl::StrAppend(&command, " -- ", CROSSLINK_BIN_DIR, "/crosslink-test-elastic-worker ",
                  worker_args, " 2>&1");
  ElasticJob job;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return job;
  char line[8192];
  static const std::regex step_line(
      R"(\[rank (\d+)\] step (\d+) epoch (\d+) live ([0-9,]+) status (\w+) commit (\d))");
  static const std::regex error_line(R"(\[rank (\d+)\] step (\d+) error: (.*))");
  static const std::regex result_line(R"(\[rank (\d+)\] result: (.*))");
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    job.output += line;
    const std::string text(line);
    std::smatch m;
    if (std::regex_search(text, m, step_line)) {
      Step& step = job.steps[std::stoi(m[1])][std::stoi(m[2])];
      step.epoch = std::stoll(m[3]);
      step.live = m[4];
      step.status = m[5];
      step.commit = std::stoi(m[6]);
    } else if (std::regex_search(text, m, error_line)) {
      job.steps[std::stoi(m[1])][std::stoi(m[2])].error = m[3];
    } else if (std::regex_search(text, m, result_line)) {
      job.results[std::stoi(m[1])] = m[2];
    }
  }
  const int status = pclose(pipe);
  job.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return job;
}

// What every survivor must have seen when `victim` died in the death step: steps before it over
// all ranks and committed; the death step not committed, its collectives failed with kAborted
// naming the victim (or, when `may_succeed`, succeeded); every later step over the survivors in
// epoch 2, successful and committed; a clean exit of the job.
void ExpectShrunk(const ElasticJob& job, int victim, const std::string& survivors,
                  bool may_succeed) {
  EXPECT_EQ(job.exit_code, 0) << job.output;
  EXPECT_THAT(job.output, HasSubstr(absl::StrCat("ranks [", victim,
                                                 "] failed and the job went on without them")));
  for (int rank = 0; rank < kRanks; ++rank) {
    if (rank == victim) continue;
    SCOPED_TRACE(absl::StrCat("rank ", rank));
    EXPECT_EQ(job.results.count(rank) ? job.results.at(rank) : "", "OK") << job.output;
    const auto& steps = job.steps.count(rank) ? job.steps.at(rank) : std::map<int, Step>{};
    ASSERT_EQ(steps.size(), static_cast<size_t>(kSteps)) << job.output;
    for (const auto& [index, step] : steps) {
      SCOPED_TRACE(absl::StrCat("step ", index));
      if (index < kDeathStep) {
        EXPECT_EQ(step.epoch, 1);
        EXPECT_EQ(step.live, "0,1,2,3");
        EXPECT_EQ(step.status, "OK") << step.error;
        EXPECT_EQ(step.commit, 1);
      } else if (index == kDeathStep) {
        EXPECT_EQ(step.epoch, 1);
        EXPECT_EQ(step.commit, 0) << "a step in which a rank died must not commit";
        if (step.status != "OK" || !may_succeed) {
          EXPECT_EQ(step.status, "ABORTED") << step.error;
          EXPECT_THAT(step.error, HasSubstr(absl::StrCat("rank ", victim, " died")));
        }
      } else {
        EXPECT_EQ(step.epoch, 2);
        EXPECT_EQ(step.live, survivors);
        EXPECT_EQ(step.status, "OK") << step.error;
        EXPECT_EQ(step.commit, 1);
      }
    }
  }
}

TEST(ElasticTest, SurvivorsOfARankKilledBetweenCollectivesGoOnAmongThemselves) {
  ExpectShrunk(RunElasticJob(absl::StrCat("2 kill ", kSteps)), 2, "0,1,3", /*may_succeed=*/false);
}

TEST(ElasticTest, SurvivorsOfARankKilledMidCollectiveGoOnAmongThemselves) {
  // Some survivors' allreduce may have finished before the death: ShouldCommit still says false on
  // every one of them.
  ExpectShrunk(RunElasticJob(absl::StrCat("2 mid ", kSteps)), 2, "0,1,3", /*may_succeed=*/true);
}

TEST(ElasticTest, ASecondDeathShrinksTheJobAgain) {
  // Rank 2 dies in step 2, rank 3 in step 3 (after the quorum of epoch 2): ranks 0 and 1 go on in
  // epoch 3.
  const ElasticJob job = RunElasticJob("2,3 kill 6");
  EXPECT_EQ(job.exit_code, 0) << job.output;
  for (int rank : {0, 1}) {
    SCOPED_TRACE(absl::StrCat("rank ", rank));
    EXPECT_EQ(job.results.count(rank) ? job.results.at(rank) : "", "OK") << job.output;
    const auto& steps = job.steps.count(rank) ? job.steps.at(rank) : std::map<int, Step>{};
    ASSERT_EQ(steps.size(), 6u) << job.output;
    EXPECT_EQ(steps.at(2).status, "ABORTED");
    EXPECT_EQ(steps.at(2).commit, 0);
    EXPECT_EQ(steps.at(3).epoch, 2);
    EXPECT_EQ(steps.at(3).live, "0,1,3");
    EXPECT_EQ(steps.at(3).status, "ABORTED");
    EXPECT_THAT(steps.at(3).error, HasSubstr("rank 3 died"));
    EXPECT_EQ(steps.at(3).commit, 0);
    for (int step : {4, 5}) {
      EXPECT_EQ(steps.at(step).epoch, 3);
      EXPECT_EQ(steps.at(step).live, "0,1");
      EXPECT_EQ(steps.at(step).status, "OK") << steps.at(step).error;
      EXPECT_EQ(steps.at(step).commit, 1);
    }
  }
}

TEST(ElasticTest, WhenRankZeroDiesRankOneDecidesThePartialAgreement) {
  ExpectShrunk(RunElasticJob(absl::StrCat("0 exit ", kSteps, " partial")), 0, "1,2,3",
               /*may_succeed=*/false);
}

TEST(ElasticTest, WhenRankZeroDiesRankOneDecidesOverEmulatedResumableLinks) {
  // A scenario: every link is emulated and resumable, so the survivors' mesh is rebuilt through
  // the link resumer, and the contact-aware allreduce plans at rank 1's orbit time.
  ExpectShrunk(
      RunElasticJob(absl::StrCat("0 exit ", kSteps, " partial contact"), "formation-4.toml"), 0,
      "1,2,3", /*may_succeed=*/false);
}

TEST(ElasticTest, WhenRankZeroDiesTheRebuiltLinksAreEmulatedWithoutResume) {
  // Without resume the rebuild dials plain connections and wraps them in LinkEmulators itself.
  ExpectShrunk(RunElasticJob(absl::StrCat("0 exit ", kSteps, " contact"), "formation-4.toml",
                             "CROSSLINK_RESUME=0"),
               0, "1,2,3", /*may_succeed=*/false);
}

TEST(ElasticTest, ADeathSeenWhileIdleAbortsTheStepAndTheNextQuorumRebuildsTheMesh) {
  const ElasticJob job = RunElasticJob(absl::StrCat("2 idle ", kSteps));
  // The survivors' collectives in the death step start after the heartbeats reported it: they
  // fail at once with kAborted naming the dead rank, without rebuilding the mesh in mid-step
  // (a survivor whose collective met the death would already be in ShouldCommit or the next
  // Quorum, and the two would wait for each other until a deadline); the next Quorum rebuilds.
  ExpectShrunk(job, 2, "0,1,3", /*may_succeed=*/false);
  for (int rank : {0, 1, 3}) {
    EXPECT_THAT(job.steps.at(rank).at(kDeathStep).error,
                HasSubstr("not started: the membership moved from epoch 1"))
        << job.output;
  }
}

}  // namespace
}  // namespace crosslink::runtime
