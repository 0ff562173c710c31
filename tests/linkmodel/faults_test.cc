#include "crosslink/linkmodel/faults.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace crosslink::linkmodel {
namespace {

std::vector<CandidateLink> Chain(int n) {
  std::vector<CandidateLink> links;
  for (int i = 0; i + 1 < n; ++i) links.push_back({i, i + 1, false});
  return links;
}

bool Same(const std::vector<std::vector<FaultInterval>>& x,
          const std::vector<std::vector<FaultInterval>>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].size() != y[i].size()) return false;
    for (size_t j = 0; j < x[i].size(); ++j) {
      if (x[i][j].start_s != y[i][j].start_s || x[i][j].end_s != y[i][j].end_s) return false;
    }
  }
  return true;
}

TEST(FaultsTest, SameSeedSameFaultsBitForBit) {
  const FaultConfig config{.seed = 42,
                           .link_mtbf_s = 500,
                           .link_mttr_s = 30,
                           .satellite_mtbf_s = 2000,
                           .satellite_mttr_s = 60};
  auto a = GenerateFaults(config, Chain(50), 50, 10000);
  auto b = GenerateFaults(config, Chain(50), 50, 10000);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(Same(*a, *b));
  FaultConfig other = config;
  other.seed = 43;
  auto c = GenerateFaults(other, Chain(50), 50, 10000);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(Same(*a, *c));
}

TEST(FaultsTest, EachLinkHasItsOwnStream) {
  // Link i's faults do not depend on how many links there are.
  const FaultConfig config{.seed = 7, .link_mtbf_s = 300, .link_mttr_s = 20};
  auto small = GenerateFaults(config, Chain(5), 5, 5000);
  auto large = GenerateFaults(config, Chain(500), 500, 5000);
  ASSERT_TRUE(small.ok() && large.ok());
  for (size_t i = 0; i < small->size(); ++i) {
    ASSERT_EQ((*small)[i].size(), (*large)[i].size());
    for (size_t j = 0; j < (*small)[i].size(); ++j) {
      EXPECT_EQ((*small)[i][j].start_s, (*large)[i][j].start_s);
    }
  }
  // Different links differ.
  EXPECT_NE((*large)[0].front().start_s, (*large)[1].front().start_s);
}

TEST(FaultsTest, MeanUpAndDownTimes) {
  const double mtbf = 1000, mttr = 100, duration = 1e6;
  const FaultConfig config{.seed = 3, .link_mtbf_s = mtbf, .link_mttr_s = mttr};
  auto faults = GenerateFaults(config, Chain(101), 101, duration);
  ASSERT_TRUE(faults.ok());
  double down = 0;
  size_t count = 0;
  for (const auto& link : *faults) {
    double last_end = 0;
    for (const FaultInterval& f : link) {
      EXPECT_GT(f.start_s, last_end);  // sorted and disjoint
      EXPECT_LE(f.end_s, duration);
      last_end = f.end_s;
      down += f.end_s - f.start_s;
      ++count;
    }
  }
  const double expected_count = 100 * duration / (mtbf + mttr);  // ~90,900 outages
  EXPECT_NEAR(count / expected_count, 1.0, 0.02);
  EXPECT_NEAR(down / count, mttr, 0.02 * mttr);
  EXPECT_NEAR(down / (100 * duration), mttr / (mtbf + mttr), 0.003);
}

TEST(FaultsTest, SatelliteResetTakesAllItsLinksDown) {
  const FaultConfig config{.seed = 11, .satellite_mtbf_s = 1000, .satellite_mttr_s = 50};
  // A star: satellite 0 in the middle of links to 1..4.
  const std::vector<CandidateLink> star = {{0, 1}, {0, 2}, {0, 3}, {0, 4}};
  auto faults = GenerateFaults(config, star, 5, 20000);
  ASSERT_TRUE(faults.ok());
  // The intersection of the four links' outages is satellite 0's reset set: non-empty, and its
  // total close to 20000 * 50 / 1050.
  double common = 0;
  for (double t = 0; t < 20000; t += 1.0) {
    bool all = true;
    for (int l = 0; l < 4; ++l) {
      bool in = false;
      for (const FaultInterval& f : (*faults)[l]) in |= f.start_s <= t && t < f.end_s;
      all &= in;
    }
    common += all ? 1.0 : 0.0;
  }
  EXPECT_GT(common, 0.3 * 20000 * 50 / 1050);
  EXPECT_LT(common, 3.0 * 20000 * 50 / 1050);
}

TEST(FaultsTest, DisabledWhenZeroAndValidated) {
  auto none = GenerateFaults(FaultConfig{}, Chain(10), 10, 1e5);
  ASSERT_TRUE(none.ok());
  for (const auto& l : *none) EXPECT_TRUE(l.empty());
  EXPECT_EQ(GenerateFaults({.link_mtbf_s = 10, .link_mttr_s = 0}, Chain(3), 3, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateFaults({.satellite_mtbf_s = -1}, Chain(3), 3, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A year with a millisecond MTBF expected ~1e10 intervals and drew them until memory ran out;
// now the expected count is bounded before anything is drawn.
TEST(FaultsTest, RejectsMoreExpectedOutagesThanTheCap) {
  const absl::Status links =
      GenerateFaults({.link_mtbf_s = 1e-3, .link_mttr_s = 1e-3}, Chain(3), 3, 3e7).status();
  EXPECT_EQ(links.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(links.message().find("faults.link_mtbf_s"), std::string::npos);
  EXPECT_NE(links.message().find("at most 1e+08"), std::string::npos);
  EXPECT_EQ(GenerateFaults({.satellite_mtbf_s = 1e-3, .satellite_mttr_s = 1e-3}, Chain(3), 3, 3e7)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // The count grows with the links: fine for 10 links, too many for 10^6.
  const FaultConfig hourly{.link_mtbf_s = 3600, .link_mttr_s = 60};
  EXPECT_TRUE(GenerateFaults(hourly, Chain(10), 10, 3e7).ok());
  const std::vector<CandidateLink> many(1'000'000, CandidateLink{0, 1, false});
  EXPECT_EQ(GenerateFaults(hourly, many, 2, 3e7).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateFaults(FaultConfig{}, Chain(3), -1, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FaultsTest, RngUniformAndExponential) {
  FaultRng rng(1, 1, 0);
  double sum = 0, sum_exp = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_exp += rng.Exponential(5.0);
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
  EXPECT_NEAR(sum_exp / 100000, 5.0, 0.1);
  // Fixed output for a fixed stream: the generator is ours, not the library's.
  FaultRng a(123, 1, 9), b(123, 1, 9);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
}

}  // namespace
}  // namespace crosslink::linkmodel
