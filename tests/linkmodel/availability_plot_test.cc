// Availability plot: gnuplot produces a real PNG (signature checked) for a small plan and for one
// with more links than the plot draws; a failing gnuplot is an error that names the command.
#include "crosslink/linkmodel/availability_plot.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hand_made_plan.h"

namespace crosslink::linkmodel {
namespace {

using ::testing::HasSubstr;

bool IsPng(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, 8);
  return in.gcount() == 8 && std::string(head, 8) == std::string("\x89PNG\r\n\x1a\n", 8);
}

std::filesystem::path TempPath(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove(path);
  return path;
}

TEST(AvailabilityPlotTest, WritesPng) {
  const std::filesystem::path path = TempPath("availability_small.png");
  absl::Status status = WriteAvailabilityPlot(testing::HandMadePlan(), path);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(IsPng(path));
}

TEST(AvailabilityPlotTest, ManyLinksDrawASubset) {
  // 1000 links, each with a periodic occlusion: the plot draws a deterministic subset.
  std::vector<std::string> names;
  for (int i = 0; i < 1001; ++i) names.push_back("S" + std::to_string(i));
  std::vector<Link> links;
  for (int i = 0; i < 1000; ++i) {
    const double edge = 10.0 + (i % 50);
    links.push_back({i,
                     i + 1,
                     i % 2 == 1,
                     {{0, edge, LinkState::kUp}, {edge, 100, LinkState::kOccluded}},
                     std::vector<float>(11, 1000.0f)});
  }
  const ContactPlan plan(names, absl::UnixEpoch(), 100.0, 10.0, LinkPhysics{}, false,
                         std::move(links));
  const std::filesystem::path path = TempPath("availability_many.png");
  absl::Status status = WriteAvailabilityPlot(plan, path);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(IsPng(path));
}

TEST(AvailabilityPlotTest, FailingGnuplotNamesTheCommand) {
  AvailabilityPlotOptions options;
  options.gnuplot = "/nonexistent/gnuplot";
  absl::Status status =
      WriteAvailabilityPlot(testing::HandMadePlan(), TempPath("never.png"), options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent/gnuplot"));
}

TEST(AvailabilityPlotTest, EmptyPlanIsInvalid) {
  EXPECT_EQ(WriteAvailabilityPlot(ContactPlan(), TempPath("empty.png")).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crosslink::linkmodel
