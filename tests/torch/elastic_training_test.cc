// Elastic training end to end, as a user runs it: a three-rank train_char_transformer --elastic
// job under the real crosslink-run --max-restarts, whose rank 1 is killed with SIGKILL once the
// first epoch has been evaluated. The launcher starts rank 1 again, the new process rejoins and
// receives the training state (parameters, AdamW's state, the loop's position) from a live rank,
// and the job must still exit 0 with every rank (the restarted one included) holding bit-identical
// parameters and the final line counting the death and the admission (membership_changes >= 2).
// A small model, so that the test takes well under a minute on two cores.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The pid of the process that `launcher` started for rank `rank` (its child whose environment
// holds RANK=<rank>), or -1.
pid_t RankPid(pid_t launcher, int rank) {
  const std::string wanted = absl::StrCat("RANK=", rank);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/PID/stat: "pid (comm) state ppid ...": the ppid follows the last ')'.
    const std::string stat = ReadFile(entry.path() / "stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    if (fields.size() < 2 || fields[1] != std::to_string(launcher)) continue;
    for (absl::string_view var : absl::StrSplit(ReadFile(entry.path() / "environ"), '\0')) {
      if (var == wanted) return static_cast<pid_t>(std::stoi(name));
    }
  }
  return -1;
}

TEST(ElasticTrainingTest, ARankKilledMidTrainingRejoinsAndEveryRankEndsWithTheSameModel) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("elastic_training_test_", getpid());
  std::filesystem::create_directories(dir);
  const std::filesystem::path out = dir / "stdout", err = dir / "stderr";
  const std::string command = absl::StrCat(
      "exec ", CROSSLINK_BIN_DIR, "/crosslink-run -n 3 --max-restarts 2 --timeout 150 ",
      "--output raw -- ", CROSSLINK_BIN_DIR,
      "/train_char_transformer --elastic --digest 1 --epochs 8 --steps 25 --layers 1 ",
      "--heads 2 --embd 32 --block 16 --batch 4 --eval-windows 16 --sample 0 >", out.string(),
      " 2>", err.string());
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t launcher = -1;
  ASSERT_EQ(posix_spawn(&launcher, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ),
            0);

  // Kill rank 1 once epoch 1 was evaluated (the leader's "epoch 1:" line).
  const absl::Time give_up = absl::Now() + absl::Seconds(90);
  pid_t victim = -1;
  while (absl::Now() < give_up && ReadFile(err).find("epoch 1:") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  victim = RankPid(launcher, 1);
  ASSERT_GT(victim, 0) << "rank 1's process not found; stderr:\n" << ReadFile(err);
  ASSERT_EQ(kill(victim, SIGKILL), 0);

  int status = 0;
  ASSERT_EQ(waitpid(launcher, &status, 0), launcher);
  const std::string stdout_text = ReadFile(out), stderr_text = ReadFile(err);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status)) << stderr_text;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << stderr_text.substr(stderr_text.size() > 6000 ? stderr_text.size() - 6000 : 0);
  EXPECT_NE(stderr_text.find("restarting it"), std::string::npos) << stderr_text;

  // Every rank's digest, the restarted rank 1's included, is the same.
  static const std::regex digest_line(R"(params rank=(\d+) digest=([0-9a-f]{16}))");
  std::map<int, std::string> digests;
  for (auto it = std::sregex_iterator(stdout_text.begin(), stdout_text.end(), digest_line);
       it != std::sregex_iterator(); ++it) {
    digests[std::stoi((*it)[1])] = (*it)[2];
  }
  ASSERT_EQ(digests.size(), 3u) << stdout_text;
  EXPECT_EQ(digests[0], digests[1]) << stdout_text;
  EXPECT_EQ(digests[0], digests[2]) << stdout_text;

  std::vector<std::string> lines = absl::StrSplit(stdout_text, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  static const std::regex final_line(
      R"(final val_loss=([0-9.]+) outages=0 wall_s=([0-9.]+) membership_changes=(\d+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines.back(), m, final_line)) << "last line: " << lines.back();
  // The death and the admission.
  EXPECT_GE(std::stoi(m[3]), 2) << stdout_text;
  // It learned: the untrained loss is ln(vocabulary) ~ 4.2 nats.
  EXPECT_LT(std::stod(m[1]), 3.5) << stderr_text;
}

}  // namespace
