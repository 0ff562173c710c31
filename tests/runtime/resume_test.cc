// Resuming cut links end to end: real two-rank jobs through the real crosslink-run on
// tests/runtime/data/cut-link.toml, whose ranks' link random faults take down every few seconds
// of wall time, with outages in cut mode. With resume (the default) every allreduce of a 12 s
// loop succeeds and is exact on every rank (the worker checks each element), the links were cut
// and mended (chunks resent, reconnections logged), a detour was left for the direct link once
// that returned, and no rank waited for the 20 s timeout.
// The same scenario without resume fails (communicator_test's CutLinkFailsNamingTheLink...).
#include <cstdio>
#include <map>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

struct JobOutput {
  int exit_code = -1;
  std::string text;
  std::map<int, std::string> codes;  // by rank
  std::map<int, long> allreduces, resent, outages;
};

JobOutput RunWorkers(int ranks, const std::string& worker_args, const std::string& scenario) {
  const std::string command = absl::StrCat(
      CROSSLINK_BIN_DIR, "/crosslink-run -n ", ranks, " --timeout 90 --scenario ", scenario, " -- ",
      CROSSLINK_BIN_DIR, "/crosslink-test-communicator-worker ", worker_args, " 2>&1");
  JobOutput out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out.text += buffer;
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  static const std::regex result(R"(\[rank (\d+)\] result: (\w+) after)");
  static const std::regex stats(
      R"(\[rank (\d+)\] resume: (\d+) allreduces, (\d+) chunks resent, (\d+) outages)");
  for (auto it = std::sregex_iterator(out.text.begin(), out.text.end(), result);
       it != std::sregex_iterator(); ++it) {
    out.codes[std::stoi((*it)[1])] = (*it)[2];
  }
  for (auto it = std::sregex_iterator(out.text.begin(), out.text.end(), stats);
       it != std::sregex_iterator(); ++it) {
    const int rank = std::stoi((*it)[1]);
    out.allreduces[rank] = std::stol((*it)[2]);
    out.resent[rank] = std::stol((*it)[3]);
    out.outages[rank] = std::stol((*it)[4]);
  }
  return out;
}

TEST(ResumeTest, CutLinksResumeAndEveryAllreduceIsExact) {
  const JobOutput job = RunWorkers(
      2, "resume 12", absl::StrCat(CROSSLINK_SOURCE_DIR, "/tests/runtime/data/cut-link.toml"));
  ASSERT_EQ(job.exit_code, 0) << job.text;
  ASSERT_EQ(job.codes.size(), 2u) << job.text;
  for (const auto& [rank, code] : job.codes) EXPECT_EQ(code, "OK") << job.text;
  ASSERT_EQ(job.allreduces.size(), 2u) << job.text;
  long resent = 0;
  for (const auto& [rank, n] : job.allreduces) {
    EXPECT_GT(n, 10) << job.text;
    EXPECT_GT(job.outages.at(rank), 0) << job.text;
    resent += job.resent.at(rank);
  }
  // The scenario's faults cut the link several times in 12 s; each cut resends what was in
  // flight, and the link came back (directly or through a detour) each time.
  EXPECT_GT(resent, 0) << job.text;
  EXPECT_THAT(job.text, HasSubstr("reconnected")) << job.text;
  EXPECT_THAT(job.text, HasSubstr("resumed over")) << job.text;
  // The seed's first fault (orbit t=32 s to 45 s) sends the link through a detour; once the direct
  // link is back the detour steps aside (ExpiringTimeline) and the link returns to it.
  EXPECT_THAT(job.text, HasSubstr("retired: the direct link")) << job.text;
  EXPECT_THAT(job.text, HasSubstr("reconnected over the direct link: direct link")) << job.text;
}

}  // namespace
}  // namespace crosslink::runtime
