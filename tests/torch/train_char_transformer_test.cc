// The character-transformer example (examples/char_transformer) as a user runs it: a two-rank
// job through the real crosslink-run on a tiny model for a few steps. It must exit 0, print the
// documented last line, lower the validation loss below the untrained model's, and leave both
// ranks with bitwise the same parameters (data parallelism: the same averaged gradients, the
// same optimiser steps). The default text is Debian's GPL-3 (base-files, always installed).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::string text;
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return text;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), file) != nullptr) text += buffer;
  std::fclose(file);
  return text;
}

TEST(TrainCharTransformerTest, TwoRanksLowerTheLossAndHoldIdenticalParameters) {
  const std::filesystem::path csv = std::filesystem::temp_directory_path() /
                                    absl::StrCat("char_transformer_test_", getpid(), ".csv");
  // --output raw: the ranks write straight to our pipe, so rank 1's digest line (written before
  // the job's last barrier) comes before rank 0's final line (written after it).
  const std::string command = absl::StrCat(
      CROSSLINK_BIN_DIR, "/crosslink-run -n 2 --timeout 240 --output raw -- ", CROSSLINK_BIN_DIR,
      "/train_char_transformer --epochs 2 --steps 15 --batch 8 --block 32 --layers 1 --heads 2 "
      "--embd 32 --eval-windows 16 --sample 0 --digest 1 --csv ",
      csv.string(), " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  ASSERT_EQ(WEXITSTATUS(status), 0) << out;

  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  static const std::regex final_line(
      R"(final val_loss=([0-9.]+) outages=([0-9]+) wall_s=([0-9.]+) membership_changes=0)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines.back(), m, final_line)) << "last line: " << lines.back();
  const double final_val_loss = std::stod(m[1]);
  EXPECT_EQ(std::stoi(m[2]), 0) << "an ideal job met outages";
  EXPECT_GT(std::stod(m[3]), 0.0);

  // One digest per rank, and they agree.
  static const std::regex digest_line(R"(params rank=([0-9]+) digest=([0-9a-f]{16}))");
  std::map<int, std::string> digests;
  for (const std::string& line : lines) {
    if (std::regex_match(line, m, digest_line)) digests[std::stoi(m[1])] = m[2];
  }
  ASSERT_EQ(digests.size(), 2u) << out;
  EXPECT_EQ(digests[0], digests[1]) << "the ranks' parameters differ after data-parallel training";

  // The CSV: epoch 0 (untrained) and one row per epoch; the loss went down.
  const std::string text = ReadFile(csv);
  std::filesystem::remove(csv);
  std::vector<std::string> rows = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 4u) << text;
  EXPECT_EQ(rows[0], "epoch,step,wall_s,train_loss,val_loss,outages");
  std::vector<std::vector<std::string>> fields;
  for (size_t i = 1; i < rows.size(); ++i) {
    fields.push_back(absl::StrSplit(rows[i], ','));
    ASSERT_EQ(fields.back().size(), 6u) << rows[i];
  }
  EXPECT_EQ(fields[0][0], "0");
  EXPECT_EQ(fields[2][1], "30");  // two epochs of 15 steps
  const double untrained = std::stod(fields[0][4]);
  EXPECT_NEAR(std::stod(fields[2][4]), final_val_loss, 1e-3);
  // 30 Adam steps at lr 3e-3 learn at least the characters' frequencies: well below the
  // untrained model's ~ln(vocabulary) nats.
  EXPECT_LT(final_val_loss, untrained - 0.3) << text;
  EXPECT_LT(std::stod(fields[2][3]), std::stod(fields[1][3])) << "train loss did not decrease";
}

}  // namespace
