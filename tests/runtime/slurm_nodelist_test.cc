// Expanding Slurm's compressed host and task lists, and refusing malformed or oversized ones
// promptly with kInvalidArgument naming the offending text.
#include "crosslink/runtime/slurm_nodelist.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(SlurmNodelistTest, ExpandSlurmNodelist) {
  EXPECT_THAT(*ExpandSlurmNodelist("gpu[01-04,07],cpu3"),
              ElementsAre("gpu01", "gpu02", "gpu03", "gpu04", "gpu07", "cpu3"));
  EXPECT_THAT(*ExpandSlurmNodelist("node7"), ElementsAre("node7"));
  EXPECT_THAT(*ExpandSlurmNodelist("n[8-11]"), ElementsAre("n8", "n9", "n10", "n11"));
  EXPECT_THAT(*ExpandSlurmNodelist("n[098-101]"), ElementsAre("n098", "n099", "n100", "n101"));
  EXPECT_THAT(*ExpandSlurmNodelist("r[1-2]n[1-2]"), ElementsAre("r1n1", "r1n2", "r2n1", "r2n2"));
  EXPECT_THAT(*ExpandSlurmNodelist("a[1,3],b,c[5]"), ElementsAre("a1", "a3", "b", "c5"));
  EXPECT_THAT(*ExpandSlurmNodelist("a[1-2][7]x"), ElementsAre("a17x", "a27x"));
  for (const char* bad : {"gpu[01-04", "gpu01-04]", "gpu[04-01]", "gpu[a-b]", "", "a,,b",
                          "gpu[1[2]]", "[1-2]", "gpu[]", "gpu[1,,2]", "gpu[-3]", "gpu[+3]"}) {
    EXPECT_EQ(ExpandSlurmNodelist(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << bad << "'";
  }
}

TEST(SlurmNodelistTest, ListsUpToTheCapExpand) {
  const absl::StatusOr<std::vector<std::string>> hosts =
      ExpandSlurmNodelist(absl::StrCat("n[1-", kMaxSlurmHosts, "]"));
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  EXPECT_THAT(*hosts, SizeIs(kMaxSlurmHosts));
  EXPECT_EQ(hosts->back(), absl::StrCat("n", kMaxSlurmHosts));
  // The largest numbers that fit in 64 bits still work, without overflowing past them.
  EXPECT_THAT(*ExpandSlurmNodelist("n[9223372036854775806-9223372036854775807]"),
              ElementsAre("n9223372036854775806", "n9223372036854775807"));
}

// Each of these would expand to more hosts than a job can have (or overflow): refused at once,
// naming the part of the list at fault.
TEST(SlurmNodelistTest, OversizedListsAreRefusedPromptlyNamingTheOffendingText) {
  struct Case {
    std::string list;
    std::string named;
  };
  const Case cases[] = {
      {"n[0-9223372036854775807]", "0-9223372036854775807"},
      {absl::StrCat("n[0-", kMaxSlurmHosts, "]"), absl::StrCat("0-", kMaxSlurmHosts)},
      {"r[1-300]n[1-300]", "1-300"},  // 90000 hosts from two groups
      {"a[1-40000],b[1-40000]", "1-40000"},
      {absl::StrCat("a[1-", kMaxSlurmHosts, "],b"), "'b'"},
      {"n[0-99999999999999999999]", "99999999999999999999"},  // more than 64 bits
      {"n[18446744073709551616]", "18446744073709551616"},
      {absl::StrCat("n", std::string(300, 'x')), std::string(300, 'x')},  // not a host name
      {absl::StrCat("n[", std::string(300, '0'), "1-2]"), std::string(300, '0')},
      {absl::StrCat(std::string(200, 'x'), "[1-2]", std::string(100, 'y')), std::string(100, 'y')},
  };
  for (const Case& c : cases) {
    const absl::Time start = absl::Now();
    const absl::StatusOr<std::vector<std::string>> hosts = ExpandSlurmNodelist(c.list);
    EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << c.list;
    EXPECT_EQ(hosts.status().code(), absl::StatusCode::kInvalidArgument) << c.list;
    EXPECT_THAT(hosts.status().message(), HasSubstr(c.named)) << c.list;
  }
}

TEST(SlurmNodelistTest, ExpandSlurmTasksPerNode) {
  EXPECT_THAT(*ExpandSlurmTasksPerNode("2(x3),1"), ElementsAre(2, 2, 2, 1));
  EXPECT_THAT(*ExpandSlurmTasksPerNode("4"), ElementsAre(4));
  for (const char* bad : {"", "2(x", "2(x0)", "x", "2(3)"}) {
    EXPECT_EQ(ExpandSlurmTasksPerNode(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << bad << "'";
  }
}

TEST(SlurmNodelistTest, OversizedTaskListsAreRefusedNamingTheEntry) {
  EXPECT_THAT(*ExpandSlurmTasksPerNode(absl::StrCat("1(x", kMaxSlurmHosts, ")")),
              SizeIs(kMaxSlurmHosts));
  for (const std::string bad : {std::string("2(x2000000000)"), std::string("1(x40000),1(x40000)"),
                                absl::StrCat("1(x", kMaxSlurmHosts, "),1")}) {
    const absl::StatusOr<std::vector<int>> counts = ExpandSlurmTasksPerNode(bad);
    EXPECT_EQ(counts.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(counts.status().message(), HasSubstr("more than")) << bad;
  }
}

}  // namespace
}  // namespace crosslink::runtime
