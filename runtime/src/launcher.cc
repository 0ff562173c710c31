#include "crosslink/runtime/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/runtime/launch_env.h"
#include "netns_job.h"
#include "restart_policy.h"

namespace crosslink::runtime {
namespace {

// After every rank has been reaped, how long output pipes still held open (by a rank's orphaned
// grandchild) are drained before the launcher stops reading them.
constexpr absl::Duration kPipeDrainLimit = absl::Seconds(1);

absl::Status ErrnoStatus(const std::string& what) {
  return absl::InternalError(absl::StrCat("crosslink-run: ", what, ": ", strerror(errno)));
}

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("getrandom for the job token");
    }
    got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(raw);
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // The reader went away (closed terminal or pipe); output is best effort.
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Resolves the program like execvp would, before fork, so the child only calls execve.
absl::StatusOr<std::string> ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (access(program.c_str(), X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat("crosslink-run: cannot execute '", program, "': ", strerror(errno)));
    }
    return program;
  }
  const char* path = getenv("PATH");
  for (const absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    const std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("crosslink-run: program '", program, "' not found in PATH"));
}

// One output stream of one rank, cut into lines.
struct Stream {
  int fd = -1;
  int out_fd = 1;
  std::string pending;
};

// One process of a rank (a restarted rank has several, the old ones draining their output).
struct Rank {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  Stream streams[2];
};

// A failed rank waiting for its restart (--max-restarts).
struct PendingRestart {
  int rank = 0;
  int count = 0;  // its CROSSLINK_RESTART_COUNT
  absl::Time at;
};

class Job {
 public:
  Job(const LaunchOptions& options, CoordinatorServer* server)
      : options_(options),
        server_(server),
        start_(absl::Now()),
        restart_policy_(options.max_restarts) {}

  absl::Status Spawn(const std::string& program, const std::vector<std::string>& env);
  // --netns: each rank's namespace and extra variables (set before Spawn).
  void SetNetns(const NetnsJob* netns) { netns_ = netns; }
  absl::StatusOr<LaunchResult> Supervise(int signal_fd);
  void KillAll(int signal);

 private:
  void Emit(Rank& rank, Stream& stream, bool eof);
  void ReadStream(Rank& rank, Stream& stream);
  void Reap();
  void OnExit(Rank& rank, int wait_status);
  absl::Status SpawnRank(int r, int restart_count);
  // Starts the pending restarts that are due; returns when the next one is due.
  absl::Time RunDueRestarts();
  std::string Summary(const LaunchResult& result) const;

  const LaunchOptions& options_;
  CoordinatorServer* server_;
  const absl::Time start_;
  std::vector<Rank> ranks_;
  LaunchResult result_;
  // When set, ranks still running get SIGTERM at terminate_at_ and SIGKILL at kill_at_.
  absl::Time terminate_at_ = absl::InfiniteFuture();
  absl::Time kill_at_ = absl::InfiniteFuture();
  bool killing_ = false;  // The launcher itself is now ending ranks; their exits are not failures.
  std::string program_;
  std::vector<std::string> env_;
  RestartPolicy restart_policy_;
  std::vector<PendingRestart> pending_restarts_;
  const NetnsJob* netns_ = nullptr;
};

absl::Status Job::Spawn(const std::string& program, const std::vector<std::string>& env) {
  program_ = program;
  env_ = env;
  for (int r = 0; r < options_.num_ranks; ++r) RETURN_IF_ERROR(SpawnRank(r, 0));
  return absl::OkStatus();
}

absl::Status Job::SpawnRank(int r, int restart_count) {
  const std::string& program = program_;
  std::vector<char*> argv;
  for (const std::string& a : options_.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  {
    std::vector<std::string> rank_env = env_;
    rank_env.push_back(absl::StrCat("RANK=", r));
    rank_env.push_back(absl::StrCat("LOCAL_RANK=", r));
    rank_env.push_back(absl::StrCat("CROSSLINK_RESTART_COUNT=", restart_count));
    const int netns_fd = netns_ != nullptr ? netns_->NamespaceFd(r) : -1;
    if (netns_ != nullptr) {
      for (std::string& e : netns_->RankEnv(r)) rank_env.push_back(std::move(e));
    }
    std::vector<char*> envp;
    for (const std::string& e : rank_env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    Rank rank;
    rank.rank = r;
    int pipes[2][2] = {{-1, -1}, {-1, -1}};
    if (options_.output == OutputMode::kPrefix) {
      for (int s = 0; s < 2; ++s) {
        if (pipe2(pipes[s], O_CLOEXEC) != 0) return ErrnoStatus("pipe for rank output");
      }
    }
    const std::string exec_error =
        absl::StrCat("crosslink-run: rank ", r, ": cannot execute ", program, "\n");
    const pid_t launcher_pid = getpid();
    const pid_t pid = fork();
    if (pid < 0) return ErrnoStatus(absl::StrCat("fork of rank ", r));
    if (pid == 0) {
      // Child: only async-signal-safe calls from here (the parent has gRPC threads).
      setpgid(0, 0);
      if (netns_fd >= 0) {
        // A rank in a namespace must not outlive the launcher that drives its links and removes
        // the namespaces (a SIGKILLed launcher cannot): it dies with it, so nothing keeps the
        // namespaces alive and the next launcher's stale sweep removes them.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != launcher_pid) _exit(127);  // the launcher died before prctl
      }
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      if (options_.output == OutputMode::kPrefix) {
        dup2(pipes[0][1], STDOUT_FILENO);
        dup2(pipes[1][1], STDERR_FILENO);
      }
      if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) {
        WriteAll(STDERR_FILENO, "crosslink-run: cannot enter the rank's network namespace\n");
        _exit(127);
      }
      execve(program.c_str(), argv.data(), envp.data());
      WriteAll(STDERR_FILENO, exec_error);
      _exit(127);
    }
    setpgid(pid, pid);  // Also in the parent, so a kill(-pid) right after fork finds the group.
    rank.pid = pid;
    rank.running = true;
    for (int s = 0; s < 2; ++s) {
      if (pipes[s][0] < 0) continue;
      close(pipes[s][1]);
      fcntl(pipes[s][0], F_SETFL, O_NONBLOCK);
      rank.streams[s].fd = pipes[s][0];
      rank.streams[s].out_fd = s == 0 ? STDOUT_FILENO : STDERR_FILENO;
    }
    ranks_.push_back(std::move(rank));
  }
  return absl::OkStatus();
}

void Job::KillAll(int signal) {
  for (const Rank& rank : ranks_) {
    if (rank.running) kill(-rank.pid, signal);
  }
}

void Job::Emit(Rank& rank, Stream& stream, bool eof) {
  const std::string prefix = absl::StrCat("[rank ", rank.rank, "] ");
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t nl = stream.pending.find('\n', start);
    if (nl == std::string::npos) break;
    out.append(prefix).append(stream.pending, start, nl + 1 - start);
    start = nl + 1;
  }
  stream.pending.erase(0, start);
  if (eof && !stream.pending.empty()) {
    absl::StrAppend(&out, prefix, stream.pending, "\n");
    stream.pending.clear();
  }
  WriteAll(stream.out_fd, out);
}

void Job::ReadStream(Rank& rank, Stream& stream) {
  char buffer[65536];
  while (true) {
    const ssize_t n = read(stream.fd, buffer, sizeof(buffer));
    if (n > 0) {
      stream.pending.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Emit(rank, stream, /*eof=*/false);
      return;
    }
    Emit(rank, stream, /*eof=*/true);  // EOF or a read error: either way the stream is over.
    close(stream.fd);
    stream.fd = -1;
    return;
  }
}

void Job::OnExit(Rank& rank, int wait_status) {
  rank.running = false;
  RankExit exit;
  exit.rank = rank.rank;
  exit.signaled = WIFSIGNALED(wait_status);
  exit.status = exit.signaled ? WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
  exit.wall_s = absl::ToDoubleSeconds(absl::Now() - start_);
  exit.terminated_by_launcher = killing_;
  result_.exits.push_back(exit);
  // Every exit is reported: a failed rank as dead so peers abort instead of waiting for it, a
  // clean one as departed so nobody waits for its heartbeats either.
  const std::string reason = exit.ok() ? absl::StrCat("rank ", rank.rank, " exited normally")
                                       : absl::StrCat("rank ", rank.rank, " ", exit.Describe());
  server_->ReportFailure(rank.rank, reason).IgnoreError();  // Fails only for an invalid rank.
  if (exit.ok() || killing_ || result_.first_failure.has_value()) return;
  // --max-restarts: the rank comes back (SpawnRank, from the supervising loop) after a backoff.
  if (std::optional<absl::Time> at = restart_policy_.OnFailure(rank.rank, absl::Now())) {
    result_.exits.back().restarted = true;
    const int count = restart_policy_.restarts(rank.rank);
    pending_restarts_.push_back({rank.rank, count, *at});
    const std::string line = absl::StrCat(
        "crosslink-run: rank ", rank.rank, " ", exit.Describe(), "; restarting it (", count, " of ",
        options_.max_restarts, ") in ",
        absl::FormatDuration(absl::Trunc(*at - absl::Now(), absl::Milliseconds(1))), "\n");
    WriteAll(STDERR_FILENO, line);
    return;
  }
  // --min-ranks: an elastic job carries on while enough ranks still run (or will be restarted).
  const int running = static_cast<int>(std::count_if(ranks_.begin(), ranks_.end(),
                                                     [](const Rank& r) { return r.running; })) +
                      static_cast<int>(pending_restarts_.size());
  const int min_ranks = options_.min_ranks > 0 ? options_.min_ranks : options_.num_ranks;
  if (running >= min_ranks) {
    result_.tolerated_failures.push_back(exit);
    return;
  }
  // Below the minimum: today's ending, with the first failure (a tolerated one included).
  result_.first_failure =
      result_.tolerated_failures.empty() ? exit : result_.tolerated_failures.front();
  terminate_at_ = std::min(terminate_at_, absl::Now() + options_.grace_period);
}

absl::Time Job::RunDueRestarts() {
  absl::Time next = absl::InfiniteFuture();
  const absl::Time now = absl::Now();
  std::vector<PendingRestart> later;
  const bool any_running =
      std::any_of(ranks_.begin(), ranks_.end(), [](const Rank& r) { return r.running; });
  for (const PendingRestart& restart : pending_restarts_) {
    if (killing_ || result_.first_failure.has_value()) continue;  // the job is ending: drop it
    if (!any_running) {
      // Every other rank has exited: there is no job left to rejoin. The failure stands as one
      // the job went on without.
      for (auto it = result_.exits.rbegin(); it != result_.exits.rend(); ++it) {
        if (it->rank == restart.rank && it->restarted) {
          it->restarted = false;
          result_.tolerated_failures.push_back(*it);
          break;
        }
      }
      continue;
    }
    if (restart.at > now) {
      later.push_back(restart);
      next = std::min(next, restart.at);
      continue;
    }
    if (absl::Status s = SpawnRank(restart.rank, restart.count); !s.ok()) {
      WriteAll(STDERR_FILENO, absl::StrCat("crosslink-run: restarting rank ", restart.rank,
                                           " failed: ", s.ToString(), "\n"));
      continue;
    }
    ++result_.restarts;
  }
  pending_restarts_ = std::move(later);
  return next;
}

void Job::Reap() {
  for (Rank& rank : ranks_) {
    if (!rank.running) continue;
    int status = 0;
    pid_t got;
    do {
      got = waitpid(rank.pid, &status, WNOHANG);
    } while (got < 0 && errno == EINTR);
    if (got == rank.pid) OnExit(rank, status);
  }
}

std::string Job::Summary(const LaunchResult& result) const {
  const double wall_s = absl::ToDoubleSeconds(absl::Now() - start_);
  std::vector<int> ok, failed_later, terminated;
  std::vector<int> tolerated;  // the first failure apart, when the job ended on it
  for (const RankExit& e : result.tolerated_failures) {
    if (!result.first_failure || e.rank != result.first_failure->rank) tolerated.push_back(e.rank);
  }
  const std::string restarts =
      result.restarts > 0 ? absl::StrCat("; ", result.restarts, " restarts (--max-restarts ",
                                         options_.max_restarts, ")")
                          : std::string();
  for (const RankExit& e : result.exits) {
    if (e.restarted) continue;
    if (result.first_failure && e.rank == result.first_failure->rank) continue;
    if (absl::c_linear_search(tolerated, e.rank)) continue;
    if (e.ok()) {
      ok.push_back(e.rank);
    } else if (e.terminated_by_launcher) {
      terminated.push_back(e.rank);
    } else {
      failed_later.push_back(e.rank);
    }
  }
  const auto list = [](std::vector<int> ranks) {
    std::sort(ranks.begin(), ranks.end());
    return absl::StrCat("[", absl::StrJoin(ranks, ", "), "]");
  };
  std::string line;
  if (result.first_failure) {
    line = absl::StrCat("rank ", result.first_failure->rank,
                        " failed first: ", result.first_failure->Describe(), " after ",
                        absl::StrFormat("%.1f", result.first_failure->wall_s), "s");
  } else if (result.timed_out) {
    line = absl::StrCat("timeout of ", absl::FormatDuration(options_.timeout), " exceeded");
  } else if (!tolerated.empty()) {
    line = absl::StrCat("ranks ", list(tolerated), " failed and the job went on without them (",
                        "--min-ranks ", options_.min_ranks, ")");
  } else {
    return absl::StrCat("all ", options_.num_ranks, " ranks exited with status 0 in ",
                        absl::StrFormat("%.1f", wall_s), "s", restarts);
  }
  if (!tolerated.empty() && (result.first_failure || result.timed_out)) {
    absl::StrAppend(&line, "; ranks ", list(tolerated), " failed and were tolerated (--min-ranks ",
                    options_.min_ranks, ")");
  }
  if (!failed_later.empty()) absl::StrAppend(&line, "; ranks ", list(failed_later), " failed too");
  if (!terminated.empty()) {
    absl::StrAppend(&line, "; ranks ", list(terminated), " were ",
                    result.timed_out ? "killed at the timeout" : "terminated by the launcher");
  }
  if (!ok.empty()) absl::StrAppend(&line, "; ranks ", list(ok), " exited 0");
  absl::StrAppend(&line, restarts, "; exit code ", result.exit_code);
  return line;
}

absl::StatusOr<LaunchResult> Job::Supervise(int signal_fd) {
  const absl::Time timeout_at = options_.timeout == absl::InfiniteDuration()
                                    ? absl::InfiniteFuture()
                                    : start_ + options_.timeout;
  absl::Time drain_until = absl::InfiniteFuture();
  int interrupts = 0;
  while (true) {
    const absl::Time restart_at = RunDueRestarts();
    const bool any_running =
        !pending_restarts_.empty() ||
        std::any_of(ranks_.begin(), ranks_.end(), [](const Rank& r) { return r.running; });
    std::vector<pollfd> fds;
    std::vector<std::pair<Rank*, Stream*>> owners;
    fds.push_back({signal_fd, POLLIN, 0});
    owners.emplace_back(nullptr, nullptr);
    for (Rank& rank : ranks_) {
      for (Stream& stream : rank.streams) {
        if (stream.fd < 0) continue;
        fds.push_back({stream.fd, POLLIN, 0});
        owners.emplace_back(&rank, &stream);
      }
    }
    if (!any_running) {
      if (drain_until == absl::InfiniteFuture()) drain_until = absl::Now() + kPipeDrainLimit;
      if (fds.size() == 1 || absl::Now() >= drain_until) break;
    }

    const absl::Time now = absl::Now();
    if (any_running && now >= timeout_at && !result_.timed_out) {
      result_.timed_out = true;
      killing_ = true;
      KillAll(SIGKILL);
    }
    if (any_running && now >= kill_at_) {
      KillAll(SIGKILL);
      kill_at_ = absl::InfiniteFuture();
    } else if (any_running && now >= terminate_at_) {
      killing_ = true;
      KillAll(SIGTERM);
      terminate_at_ = absl::InfiniteFuture();
      kill_at_ = now + options_.kill_after;
    }
    absl::Time wake = std::min({timeout_at, terminate_at_, kill_at_, drain_until, restart_at});
    if (result_.timed_out) wake = std::min(wake, drain_until);
    const int timeout_ms =
        wake == absl::InfiniteFuture()
            ? -1
            : static_cast<int>(std::clamp<int64_t>(
                  absl::ToInt64Milliseconds(absl::Ceil(wake - now, absl::Milliseconds(1))), 0,
                  1 << 30));
    const int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll");
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGCHLD) continue;  // Reaped below.
        // SIGINT / SIGTERM: pass the first on so ranks can stop cleanly; a second one is the
        // user insisting.
        ++interrupts;
        killing_ = true;
        if (interrupts == 1) {
          KillAll(static_cast<int>(info.ssi_signo));
          terminate_at_ = std::min(terminate_at_, absl::Now() + options_.grace_period);
        } else {
          KillAll(SIGKILL);
        }
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) ReadStream(*owners[i].first, *owners[i].second);
    }
    Reap();
  }
  for (Rank& rank : ranks_) {
    for (Stream& stream : rank.streams) {
      if (stream.fd < 0) continue;
      Emit(rank, stream, /*eof=*/true);
      close(stream.fd);
      stream.fd = -1;
    }
  }
  if (result_.first_failure) {
    result_.exit_code = result_.first_failure->ExitCode();
  } else if (result_.timed_out) {
    result_.exit_code = 124;  // What timeout(1) returns, so scripts treat both alike.
  } else {
    // No failure before the launcher started killing (e.g. an interrupt): the first non-zero exit
    // that --min-ranks did not tolerate.
    result_.exit_code = 0;
    for (const RankExit& e : result_.exits) {
      if (e.restarted) continue;  // its rank came back; its last process's exit counts
      const bool tolerated =
          std::any_of(result_.tolerated_failures.begin(), result_.tolerated_failures.end(),
                      [&e](const RankExit& t) { return t.rank == e.rank; });
      if (!e.ok() && !tolerated) {
        result_.first_failure = e;
        result_.exit_code = e.ExitCode();
        break;
      }
    }
    // --min-ranks tolerates failures while enough ranks go on; a job that ends with fewer ranks
    // whose last process exited 0 (every rank failed while restarts were pending, say) failed.
    const int min_ranks = options_.min_ranks > 0 ? options_.min_ranks : options_.num_ranks;
    const int finished =
        static_cast<int>(std::count_if(result_.exits.begin(), result_.exits.end(),
                                       [](const RankExit& e) { return !e.restarted && e.ok(); }));
    if (!result_.first_failure && !result_.tolerated_failures.empty() && finished < min_ranks) {
      result_.first_failure = result_.tolerated_failures.front();
      result_.exit_code = result_.first_failure->ExitCode();
    }
  }
  result_.summary = Summary(result_);
  return result_;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("crosslink-run: cannot read scenario file '", path, "': ", strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Blocks the signals the job loop reads from its signalfd, and restores the old mask on scope exit.
class SignalBlock {
 public:
  SignalBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGCHLD);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    fd_ = signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC);
  }
  ~SignalBlock() {
    if (fd_ >= 0) close(fd_);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_; }

 private:
  sigset_t set_;
  sigset_t old_;
  int fd_ = -1;
};

// True when SIGINT or SIGTERM is waiting in the signalfd (read, with any SIGCHLD before it).
bool InterruptPending(int signal_fd) {
  signalfd_siginfo info;
  while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
    if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<LaunchResult> RunLocalJob(const LaunchOptions& options) {
  if (options.num_ranks < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("crosslink-run: need at least one rank, got ", options.num_ranks));
  }
  if (options.command.empty()) {
    return absl::InvalidArgumentError("crosslink-run: no program to run");
  }
  ASSIGN_OR_RETURN(const std::string program, ResolveProgram(options.command[0]));
  std::string scenario_text;
  std::string scenario_path;
  if (!options.scenario_path.empty()) {
    ASSIGN_OR_RETURN(scenario_text, ReadFile(options.scenario_path));
    char* absolute = realpath(options.scenario_path.c_str(), nullptr);
    scenario_path = absolute ? absolute : options.scenario_path;
    free(absolute);
  }

  // Before the coordinator starts its threads, so they inherit the blocked mask and every
  // SIGCHLD/SIGINT/SIGTERM lands in the signalfd; and before --netns builds its namespaces, so a
  // Ctrl-C while it does is read from the signalfd afterwards (and the namespaces removed) instead
  // of killing the launcher with them left behind. Declared before `netns`, so the namespaces go
  // while the signals are still blocked.
  SignalBlock signals;
  if (signals.fd() < 0) return ErrnoStatus("signalfd");

  // --netns: the namespaces and links, before any thread exists (its ip commands fork).
  std::unique_ptr<NetnsJob> netns;
  if (options.netns) {
    ASSIGN_OR_RETURN(
        netns, NetnsJob::Prepare(options.num_ranks, scenario_text, scenario_path, ProcessEnv()));
    // Building them takes seconds; a Ctrl-C meanwhile ends the job before any rank starts.
    if (InterruptPending(signals.fd())) {
      return absl::CancelledError(
          "crosslink-run: interrupted while building the network namespaces (removed again)");
    }
  }

  ASSIGN_OR_RETURN(const std::string token, RandomHex(16));
  ASSIGN_OR_RETURN(const std::string job_suffix, RandomHex(4));
  CoordinatorOptions coordinator;
  coordinator.world_size = options.num_ranks;
  coordinator.job_token = token;
  coordinator.job_id = absl::StrCat("crosslink-", job_suffix);
  coordinator.scenario_text = scenario_text;
  // Under --netns the ranks reach it over their control links.
  coordinator.bind_address = netns != nullptr ? netns->ControlAddress() : "127.0.0.1";
  coordinator.port = options.port;
  coordinator.heartbeat_interval = options.heartbeat_interval;
  coordinator.heartbeat_miss_count = options.heartbeat_miss_count;
  coordinator.rendezvous_timeout = options.rendezvous_timeout;
  coordinator.tls_cert_file = options.tls_cert_file;
  coordinator.tls_key_file = options.tls_key_file;
  // The launcher reports deaths in-process; a remote report about another rank needs this
  // credential, which no rank gets, so a rank cannot declare another dead.
  ASSIGN_OR_RETURN(coordinator.launcher_token, RandomHex(16));
  ASSIGN_OR_RETURN(std::unique_ptr<CoordinatorServer> server,
                   CoordinatorServer::Start(coordinator));

  // The launcher's own environment, minus what it sets per rank, plus the job's variables.
  static constexpr const char* kOwned[] = {"RANK",
                                           "WORLD_SIZE",
                                           "LOCAL_RANK",
                                           "LOCAL_WORLD_SIZE",
                                           "MASTER_ADDR",
                                           "MASTER_PORT",
                                           "CROSSLINK_JOB_TOKEN",
                                           "CROSSLINK_SCENARIO",
                                           "CROSSLINK_RESTART_COUNT",
                                           "CROSSLINK_TLS_CA"};
  EnvMap env = ProcessEnv();
  for (const char* name : kOwned) env.erase(name);
  if (netns != nullptr) {
    for (const char* name : {"CROSSLINK_LISTEN_HOST", "CROSSLINK_NETNS", "CROSSLINK_TRANSPORT"}) {
      env.erase(name);
    }
  }
  std::vector<std::string> base_env;
  for (const auto& [name, value] : env) base_env.push_back(absl::StrCat(name, "=", value));
  base_env.push_back(absl::StrCat("WORLD_SIZE=", options.num_ranks));
  base_env.push_back(absl::StrCat("LOCAL_WORLD_SIZE=", options.num_ranks));
  base_env.push_back(absl::StrCat(
      "MASTER_ADDR=", netns != nullptr ? netns->ControlAddress() : std::string("127.0.0.1")));
  base_env.push_back(absl::StrCat("MASTER_PORT=", server->port()));
  base_env.push_back(absl::StrCat("CROSSLINK_JOB_TOKEN=", token));
  if (!scenario_path.empty())
    base_env.push_back(absl::StrCat("CROSSLINK_SCENARIO=", scenario_path));
  if (!options.tls_cert_file.empty()) {
    const std::string& ca =
        options.tls_ca_file.empty() ? options.tls_cert_file : options.tls_ca_file;
    char* absolute = realpath(ca.c_str(), nullptr);
    base_env.push_back(absl::StrCat("CROSSLINK_TLS_CA=", absolute ? absolute : ca));
    free(absolute);
  }

  if (netns != nullptr) {
    RETURN_IF_ERROR(
        netns->StartDriver(absl::StrCat(netns->ControlAddress(), ":", server->port()), token));
  }
  Job job(options, server.get());
  job.SetNetns(netns.get());
  if (absl::Status s = job.Spawn(program, base_env); !s.ok()) {
    job.KillAll(SIGKILL);
    return s;
  }
  absl::StatusOr<LaunchResult> result = job.Supervise(signals.fd());
  server->Stop();
  return result;
}

}  // namespace crosslink::runtime
