// ChildProcess: a program the chaos driver starts (a rank, the coordinator) and signals: fork and
// exec with extra environment variables, its own process group (so a signal to it reaches its
// threads' children too and never the driver), stdout on a pipe that a reader thread splits into
// whole lines for a callback, stderr appended to a log file. The driver reaps with waitpid; the
// object only closes the pipe and joins its reader once the process is gone.
#ifndef CROSSLINK_BENCH_CHAOS_CHILD_PROCESS_H_
#define CROSSLINK_BENCH_CHAOS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace crosslink::chaos {

class ChildProcess {
 public:
  using LineCallback = std::function<void(const std::string& line)>;

  // kInternal naming the call that failed (pipe, fork); an exec failure shows as exit 127.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::vector<std::string>& env,
                                                             const std::string& stderr_log,
                                                             LineCallback on_line);
  // Joins the reader (the pipe ends when the process and its children exited). Does not kill.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // kill(pid, signal); false when the process no longer exists.
  bool Signal(int signal) const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::thread reader_;
};

}  // namespace crosslink::chaos

#endif  // CROSSLINK_BENCH_CHAOS_CHILD_PROCESS_H_
