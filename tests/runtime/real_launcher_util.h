// Shared by the tests that start jobs through real launchers (mpirun, a local Slurm cluster,
// crosslink-run --netns): running a shell command with a deadline, finding tools, and reading
// crosslink-bench's table so that two launchers' runs can be compared row by row.
#ifndef CROSSLINK_TESTS_RUNTIME_REAL_LAUNCHER_UTIL_H_
#define CROSSLINK_TESTS_RUNTIME_REAL_LAUNCHER_UTIL_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace crosslink::testing {

struct ShellRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together.
  absl::Duration wall;
};

inline std::string BinPath(const std::string& name) {
  return std::string(CROSSLINK_BIN_DIR) + "/" + name;
}

inline std::string SourcePath(const std::string& relative) {
  return std::string(CROSSLINK_SOURCE_DIR) + "/" + relative;
}

// Runs `command` under bash, killed (with everything it started in its process group, by
// timeout's --kill-after) after `timeout_s` seconds: exit code 124 then.
inline ShellRun RunShell(const std::string& command, int timeout_s) {
  std::string quoted;
  for (char c : command) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  const std::string line =
      absl::StrCat("timeout --kill-after=10 ", timeout_s, " bash -c '", quoted, "' 2>&1");
  ShellRun run;
  const absl::Time start = absl::Now();
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.wall = absl::Now() - start;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

// True when `tool` is found in PATH or /usr/sbin.
inline bool HaveTool(const std::string& tool) {
  return RunShell(absl::StrCat("command -v ", tool, " || test -x /usr/sbin/", tool), 10)
             .exit_code == 0;
}

// Why train_fashion_mnist cannot run here (not built, data set missing), or "" when it can.
inline std::string FashionMnistSkipReason() {
  if (!HaveTool(BinPath("train_fashion_mnist"))) {
    return "train_fashion_mnist not built (needs libtorch)";
  }
  if (RunShell("test -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || test -r "
               "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte",
               10)
          .exit_code != 0) {
    return "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  }
  return "";
}

// train_fashion_mnist's last line "final test_accuracy=... outages=..." without the wall time
// (which differs from run to run); "" when absent.
inline std::string FinalResult(const std::string& output) {
  const size_t at = output.find("final test_accuracy=");
  if (at == std::string::npos) return "";
  const size_t end = output.find(" wall_s", at);
  return output.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// One row of crosslink-bench's table, the columns that must not depend on the launcher: size,
// count, type, redop, #wrong and participants (timings do).
struct BenchRowKey {
  std::string impl, size, count, type, redop, wrong, participants;
  bool operator==(const BenchRowKey&) const = default;
};

// The table rows of crosslink-bench's output (lines that start with the impl name).
inline std::vector<BenchRowKey> BenchRows(const std::string& output) {
  std::vector<BenchRowKey> rows;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // impl size count type redop time algbw busbw #wrong bound ratio outages resent participants
    if (f.size() < 14 || (f[0] != "crosslink" && f[0] != "gloo")) continue;
    int64_t size = 0;
    if (!absl::SimpleAtoi(f[1], &size)) continue;
    rows.push_back({f[0], f[1], f[2], f[3], f[4], f[8], f[13]});
  }
  return rows;
}

inline std::string Describe(const std::vector<BenchRowKey>& rows) {
  std::string out;
  for (const BenchRowKey& r : rows) {
    absl::StrAppend(&out, r.impl, " ", r.size, " ", r.count, " ", r.type, " ", r.redop,
                    " wrong=", r.wrong, " participants=", r.participants, "\n");
  }
  return out;
}

}  // namespace crosslink::testing

#endif  // CROSSLINK_TESTS_RUNTIME_REAL_LAUNCHER_UTIL_H_
