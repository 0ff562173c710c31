// Communicator end to end: real multi-process jobs started through the real crosslink-run, each
// rank a crosslink-test-communicator-worker (tests/runtime/programs/communicator_worker.cc) that
// prints "result: CODE after S s: MESSAGE". The properties: allreduce is correct on 2-4 ranks;
// ranks that disagree on the count fail with kInvalidArgument naming the disagreeing rank; a killed
// rank makes every survivor fail, naming it, well before the collective's 20 s timeout; an
// emulated link cut mid-run fails the collective with kUnavailable naming the link, no hang; with
// data TLS (CROSSLINK_DATA_TLS=1) every connection runs TLS and the sum stays exact.
#include "crosslink/runtime/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <regex>
#include <string>

#include "../collectives/test_certificates.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

struct RankResult {
  std::string code;
  double seconds = 0;
  std::string message;
};

struct JobOutput {
  int exit_code = -1;
  std::string text;
  std::map<int, RankResult> results;  // by rank
};

// Runs `ranks` workers under crosslink-run (its command line prefixed with `env`, e.g.
// "NAME=value ") and collects each rank's result line.
JobOutput RunJob(int ranks, const std::string& worker_args, const std::string& scenario = "",
                 const std::string& env = "") {
  std::string command =
      absl::StrCat(env, CROSSLINK_BIN_DIR, "/crosslink-run -n ", ranks, " --timeout 90");
  if (!scenario.empty()) absl::StrAppend(&command, " --scenario ", scenario);
  absl::StrAppend(&command, " -- ", CROSSLINK_BIN_DIR, "/crosslink-test-communicator-worker ",
                  worker_args, " 2>&1");
  JobOutput out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out.text += buffer;
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  static const std::regex line(R"(\[rank (\d+)\] result: (\w+) after ([0-9.]+) s: (.*))");
  std::smatch m;
  std::string::const_iterator begin = out.text.cbegin();
  while (std::regex_search(begin, out.text.cend(), m, line)) {
    out.results[std::stoi(m[1])] = {m[2], std::stod(m[3]), m[4]};
    begin = m.suffix().first;
  }
  return out;
}

class CommunicatorAllreduceTest : public ::testing::TestWithParam<int> {};

TEST_P(CommunicatorAllreduceTest, EveryRankGetsTheExactSum) {
  const int ranks = GetParam();
  // An odd count: blocks of unequal size, and more than one 512 KiB segment per block.
  const JobOutput job = RunJob(ranks, "allreduce 1000003");
  ASSERT_EQ(job.exit_code, 0) << job.text;
  ASSERT_EQ(static_cast<int>(job.results.size()), ranks) << job.text;
  for (const auto& [rank, result] : job.results) EXPECT_EQ(result.code, "OK") << job.text;
}

INSTANTIATE_TEST_SUITE_P(Ranks, CommunicatorAllreduceTest, ::testing::Values(2, 3, 4));

TEST(CommunicatorTest, WithDataTlsEveryConnectionRunsTlsAndTheSumIsExact) {
  collectives::testing::TestCertificates pki("job-ca");
  ASSERT_TRUE(pki.ok() && pki.Issue("job")) << "openssl could not make the test certificates";
  // One certificate for the launcher's coordinator and every rank; TCP only (no shared memory),
  // so that every data connection is a TLS one.
  const std::string env =
      absl::StrCat("CROSSLINK_DATA_TLS=1 CROSSLINK_TRANSPORT=tcp CROSSLINK_TLS_CA=", pki.cert(),
                   " CROSSLINK_TLS_CERT=", pki.cert_path("job"),
                   " CROSSLINK_TLS_KEY=", pki.key_path("job"), " ");
  const JobOutput job = RunJob(3, "allreduce 1000003", "", env);
  ASSERT_EQ(job.exit_code, 0) << job.text;
  ASSERT_EQ(static_cast<int>(job.results.size()), 3) << job.text;
  for (const auto& [rank, result] : job.results) EXPECT_EQ(result.code, "OK") << job.text;
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_THAT(job.text,
                HasSubstr(absl::StrCat("[rank ", rank, "] transport: tcp+tls to 2 ranks")));
  }
}

TEST(CommunicatorTest, DataTlsWithoutCertificatesFailsSetupNamingTheVariables) {
  const JobOutput job = RunJob(
      2, "allreduce 1000", "",
      "env -u CROSSLINK_TLS_CA -u CROSSLINK_TLS_CERT -u CROSSLINK_TLS_KEY CROSSLINK_DATA_TLS=1 ");
  EXPECT_NE(job.exit_code, 0) << job.text;
  EXPECT_THAT(job.text, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(job.text, HasSubstr("CROSSLINK_TLS_CERT"));
}

TEST(CommunicatorTest, RanksThatDisagreeOnCountFailNamingTheRank) {
  const JobOutput job = RunJob(3, "mismatch 4096");
  EXPECT_NE(job.exit_code, 0);
  ASSERT_EQ(job.results.size(), 3u) << job.text;
  for (const auto& [rank, result] : job.results) {
    EXPECT_EQ(result.code, "INVALID_ARGUMENT") << job.text;
    EXPECT_THAT(result.message, HasSubstr("rank 1")) << job.text;
    // Detected from the frames, not by waiting for the 20 s timeout.
    EXPECT_LT(result.seconds, 10.0) << job.text;
  }
}

TEST(CommunicatorTest, KilledRankMakesSurvivorsFailNamingIt) {
  const JobOutput job = RunJob(4, "kill 2");
  EXPECT_NE(job.exit_code, 0);
  // Rank 2 died by SIGKILL and printed nothing; the survivors each report.
  ASSERT_EQ(job.results.size(), 3u) << job.text;
  EXPECT_FALSE(job.results.contains(2));
  for (const auto& [rank, result] : job.results) {
    EXPECT_THAT(result.code, ::testing::AnyOf("ABORTED", "UNAVAILABLE")) << job.text;
    EXPECT_THAT(result.message, HasSubstr("rank 2")) << job.text;
    EXPECT_LT(result.seconds, 15.0) << job.text;
  }
}

TEST(CommunicatorTest, CutLinkFailsNamingTheLinkWithoutHanging) {
  // The scenario's first fault on the ranks' link comes 1.6 s of wall time after the start.
  const JobOutput job =
      RunJob(2, "cut 30", absl::StrCat(CROSSLINK_SOURCE_DIR, "/tests/runtime/data/cut-link.toml"));
  EXPECT_NE(job.exit_code, 0);
  ASSERT_FALSE(job.results.empty()) << job.text;
  bool some_rank_names_the_link = false;
  for (const auto& [rank, result] : job.results) {
    EXPECT_THAT(result.code, ::testing::AnyOf("UNAVAILABLE", "ABORTED")) << job.text;
    EXPECT_LT(result.seconds, 25.0) << job.text;
    if (result.message.find("C0S0") != std::string::npos &&
        result.message.find("C0S3") != std::string::npos) {
      some_rank_names_the_link = true;
    }
  }
  EXPECT_TRUE(some_rank_names_the_link) << job.text;
}

TEST(CommunicatorTest, DeadLinkTimeoutComesFromTheEnvironmentInBounds) {
  CommunicatorOptions options;
  EXPECT_EQ(options.dead_link_timeout, absl::Seconds(30));
  setenv("CROSSLINK_DEAD_LINK_TIMEOUT_S", "5", 1);
  ASSERT_TRUE(ApplyEnvironmentTuning(options).ok());
  EXPECT_EQ(options.dead_link_timeout, absl::Seconds(5));
  // Keepalive and TCP_USER_TIMEOUT take whole seconds; below 2 s a live link's backed-off
  // retransmission could pass for a dead one.
  for (const char* bad : {"1", "0.5", "-3", "3601", "soon"}) {
    setenv("CROSSLINK_DEAD_LINK_TIMEOUT_S", bad, 1);
    CommunicatorOptions rejected;
    EXPECT_EQ(ApplyEnvironmentTuning(rejected).code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(rejected.dead_link_timeout, absl::Seconds(30)) << bad;
  }
  unsetenv("CROSSLINK_DEAD_LINK_TIMEOUT_S");
}

}  // namespace
}  // namespace crosslink::runtime
