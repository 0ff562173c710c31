// Elastic rejoin end to end: real 4-rank jobs started through the real crosslink-run with
// --max-restarts, each rank a crosslink-test-rejoin-worker (tests/runtime/programs/
// rejoin_worker.cc) training a 4 MiB toy state with the elastic loop while rank 2 SIGKILLs itself.
// The properties a program relies on: the launcher restarts the rank; the new process is admitted
// and receives the state from a live rank (every byte of it, into a staging copy), so that every
// rank ends with the same state hash at the same step and the job exits 0; a restarted process
// whose state has another layout is refused (kInvalidArgument) while the others go on; a transfer
// whose source dies half-way resumes from a new source at the bytes already staged.
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

constexpr int kRanks = 4;
constexpr int kSteps = 120;  // ~3 s of 20 ms steps: time for two restarts
constexpr int64_t kStateBytes = (int64_t{1} << 20) * 4 + 8;  // the worker's floats and its step

struct Sync {
  int rank = -1;
  int source = -1;
  std::string receivers;
  int64_t bytes = 0;
  int64_t resumed_from = 0;
};

struct RejoinJob {
  int exit_code = -1;
  std::string output;
  std::vector<Sync> syncs;
  std::map<int, std::string> results;  // by rank: the last process's "OK step N hash H" or why
};

RejoinJob RunRejoinJob(const std::string& worker_args, int max_restarts,
                       const std::string& scenario = "") {
  const std::string scenario_flag =
      scenario.empty()
          ? std::string()
          : absl::StrCat(" --scenario ", CROSSLINK_SOURCE_DIR, "/tests/runtime/data/", scenario);
  const std::string command = absl::StrCat(
      CROSSLINK_BIN_DIR, "/crosslink-run -n ", kRanks, " --min-ranks 3 --max-restarts ",
      max_restarts, " --timeout 120", scenario_flag, " -- ", CROSSLINK_BIN_DIR,
      "/crosslink-test-rejoin-worker ", worker_args, " 2>&1");
  RejoinJob job;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return job;
  char line[8192];
  static const std::regex sync_line(
      R"(\[rank (\d+)\] sync epoch \d+ source (\d+) receivers ([0-9,]*) bytes (\d+) resumed_from (\d+))");
  static const std::regex result_line(R"(\[rank (\d+)\] result: (.*))");
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    job.output += line;
    const std::string text(line);
    std::smatch m;
    if (std::regex_search(text, m, sync_line)) {
      job.syncs.push_back(
          {std::stoi(m[1]), std::stoi(m[2]), m[3], std::stoll(m[4]), std::stoll(m[5])});
    } else if (std::regex_search(text, m, result_line)) {
      job.results[std::stoi(m[1])] = m[2];
    }
  }
  const int status = pclose(pipe);
  job.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return job;
}

// Every listed rank ended at step kSteps with one and the same state hash.
void ExpectSameFinalState(const RejoinJob& job, const std::vector<int>& ranks) {
  std::set<std::string> finals;
  for (int rank : ranks) {
    ASSERT_TRUE(job.results.count(rank)) << "rank " << rank << "\n" << job.output;
    EXPECT_THAT(job.results.at(rank), HasSubstr(absl::StrCat("OK step ", kSteps, " hash ")))
        << job.output;
    finals.insert(job.results.at(rank));
  }
  EXPECT_EQ(finals.size(), 1u) << job.output;
}

TEST(RejoinTest, AKilledRankIsRestartedAndReceivesTheLiveRanksState) {
  const RejoinJob job = RunRejoinJob(absl::StrCat("2 5 ", kSteps), /*max_restarts=*/2);
  EXPECT_EQ(job.exit_code, 0) << job.output;
  EXPECT_THAT(job.output, HasSubstr("restarting it (1 of 2)"));
  ExpectSameFinalState(job, {0, 1, 2, 3});
  // The new rank 2 received the whole state from rank 0, once.
  int received = 0;
  for (const Sync& sync : job.syncs) {
    if (sync.rank != 2 || sync.bytes == 0) continue;
    ++received;
    EXPECT_EQ(sync.source, 0);
    EXPECT_EQ(sync.receivers, "2");
    EXPECT_EQ(sync.bytes, kStateBytes);
    EXPECT_EQ(sync.resumed_from, 0);
  }
  EXPECT_EQ(received, 1) << job.output;
}

TEST(RejoinTest, ARankRejoinsOverEmulatedResumableLinks) {
  // Over a scenario the links are emulated and resume after cuts: the survivors dial the new
  // process at its new address through their link resumers, whose links to the dead process
  // (still resuming towards it) are retired first and must not take the new connections.
  const RejoinJob job =
      RunRejoinJob(absl::StrCat("2 5 ", kSteps), /*max_restarts=*/1, "formation-4.toml");
  EXPECT_EQ(job.exit_code, 0) << job.output;
  ExpectSameFinalState(job, {0, 1, 2, 3});
}

TEST(RejoinTest, ARestartedRankWithAnotherModelIsRefusedAndTheOthersGoOn) {
  const RejoinJob job = RunRejoinJob(absl::StrCat("2 5 ", kSteps, " shape"), /*max_restarts=*/1);
  EXPECT_EQ(job.exit_code, 0) << job.output;
  EXPECT_THAT(job.output, HasSubstr("[rank 2] sync error: INVALID_ARGUMENT"));
  EXPECT_THAT(job.output, HasSubstr("another layout"));
  EXPECT_THAT(job.output, HasSubstr("ranks [2] failed and the job went on without them"));
  ExpectSameFinalState(job, {0, 1, 3});
}

TEST(RejoinTest, ATransferWhoseSourceDiesHalfWayResumesFromTheNextSource) {
  // Rank 2 dies in step 5 and comes back; rank 0, the source of its state, dies once half of the
  // state is sent, and comes back too (receiving the state in turn).
  const RejoinJob job = RunRejoinJob(absl::StrCat("2 5 ", kSteps, " cut"), /*max_restarts=*/1);
  EXPECT_EQ(job.exit_code, 0) << job.output;
  EXPECT_THAT(job.output, HasSubstr("[rank 2] sync error: ABORTED"));
  ExpectSameFinalState(job, {0, 1, 2, 3});
  bool resumed = false;
  for (const Sync& sync : job.syncs) {
    if (sync.rank != 2 || sync.bytes == 0) continue;
    EXPECT_EQ(sync.source, 1) << job.output;
    EXPECT_EQ(sync.resumed_from + sync.bytes, kStateBytes) << job.output;
    resumed = sync.resumed_from > 0;
  }
  EXPECT_TRUE(resumed) << "the second transfer should start where the first was cut\n"
                       << job.output;
}

}  // namespace
}  // namespace crosslink::runtime
