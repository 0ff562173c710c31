// The Fashion-MNIST example (examples/fashion_mnist) as a user runs it: a two-rank job through the
// real crosslink-run, one epoch on the first 2000 training examples. It must exit 0, print the
// documented last line, and learn something: test accuracy above 0.5 (chance is 0.1). Skips
// when Debian's dataset-fashion-mnist is not installed.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace {

constexpr char kDataDir[] = "/usr/share/datasets/fashion-mnist";

TEST(TrainFashionMnistTest, TwoRanksLearnInOneShortEpochAndReportTheFinalLine) {
  if (!std::filesystem::exists(std::string(kDataDir) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed in " << kDataDir
                 << " (Debian package dataset-fashion-mnist)";
  }
  const std::filesystem::path csv = std::filesystem::temp_directory_path() /
                                    absl::StrCat("fashion_mnist_test_", getpid(), ".csv");
  // --output raw: the ranks' lines reach us unprefixed, so rank 0's last line is ours to check.
  const std::string command = absl::StrCat(
      CROSSLINK_BIN_DIR, "/crosslink-run -n 2 --timeout 240 --output raw -- ", CROSSLINK_BIN_DIR,
      "/train_fashion_mnist --epochs 1 --train-limit 2000 --csv ", csv.string(), " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;

  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  static const std::regex final_line(
      R"(final test_accuracy=([0-9.]+) outages=([0-9]+) wall_s=([0-9.]+) membership_changes=0)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines.back(), m, final_line)) << "last line: " << lines.back();
  const double accuracy = std::stod(m[1]);
  EXPECT_GT(accuracy, 0.5) << out;
  EXPECT_LE(accuracy, 1.0);
  EXPECT_EQ(std::stoi(m[2]), 0) << "an ideal job met outages";
  EXPECT_GT(std::stod(m[3]), 0.0);

  // The CSV: the documented header and one row for the one epoch, agreeing with the last line.
  FILE* file = std::fopen(csv.c_str(), "r");
  ASSERT_NE(file, nullptr) << csv;
  std::string text;
  while (fgets(buffer, sizeof(buffer), file) != nullptr) text += buffer;
  std::fclose(file);
  std::filesystem::remove(csv);
  std::vector<std::string> rows = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 2u) << text;
  EXPECT_EQ(rows[0], "epoch,wall_s,loss,train_acc,test_acc,outages");
  std::vector<std::string> fields = absl::StrSplit(rows[1], ',');
  ASSERT_EQ(fields.size(), 6u) << rows[1];
  EXPECT_EQ(fields[0], "1");
  EXPECT_NEAR(std::stod(fields[4]), accuracy, 1e-4);
}

}  // namespace
