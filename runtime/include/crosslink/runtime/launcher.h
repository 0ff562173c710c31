// The local job launcher behind `crosslink-run`: starts the job coordinator in-process on an
// ephemeral loopback port with a random job token, forks N ranks of a program with the launcher
// environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// CROSSLINK_JOB_TOKEN, CROSSLINK_SCENARIO) that ParseLaunchEnv reads, and watches them:
//
// - Output: by default every line a rank writes is re-emitted as "[rank i] line" on the launcher's
//   stdout (or stderr, matching the stream the rank used), whole lines at a time, so lines of
//   different ranks never mix within a line. OutputMode::kPassThrough hands ranks the launcher's
//   own stdout/stderr instead (for interactive programs, or when output is binary).
// - Failure: when a rank exits, the launcher reports it to the coordinator (a non-zero exit or a
//   signal as a death, "rank 2 was killed by signal 9 (SIGKILL)"; a clean exit as a departure), so
//   the other ranks see it in their heartbeats and blocked barriers fail with kAborted naming it
//   rather than hang. After the first failure, ranks still running get grace_period to fail on
//   their own, then SIGTERM, then SIGKILL. With min_ranks M (--min-ranks, for elastic jobs:
//   communicator.h), a failure after which at least M ranks still run is tolerated: it is
//   reported to the coordinator as above, but the other ranks go on; the first failure that leaves
//   fewer than M running ends the job as above.
// - Restarts: with max_restarts K (--max-restarts), a failed rank is started again instead, up to
//   K times per rank with a growing backoff (restart_policy.h); see LaunchOptions::max_restarts.
// - Signals: SIGINT / SIGTERM sent to the launcher are forwarded to every rank (each rank runs in
//   its own process group, so its children get them too); a second one kills the ranks.
// - Timeout: when `timeout` passes, every rank is killed with SIGKILL.
//
// Exit code: 0 when every rank exited 0; otherwise the first failing rank's exit status, or
// 128 + signal number when it was killed; 124 when the timeout fired before any rank failed.
// With tolerated failures (min_ranks): 0 when every rank that was still running after them exited
// 0; when the job fell below min_ranks, the first failure's code (a tolerated one included).
//
// Blocking and threads: RunLocalJob blocks until every rank has been reaped. It blocks SIGCHLD,
// SIGINT and SIGTERM in the calling thread and reads them from a signalfd, so it must be called
// before other threads exist (or with those signals blocked in all of them), as crosslink-run's
// main does. Not reentrant: one job per process at a time.
#ifndef CROSSLINK_RUNTIME_LAUNCHER_H_
#define CROSSLINK_RUNTIME_LAUNCHER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crosslink::runtime {

enum class OutputMode {
  kPrefix,       // "[rank i] " before every line.
  kPassThrough,  // Ranks inherit the launcher's stdout and stderr.
};

struct LaunchOptions {
  int num_ranks = 0;
  // The program and its arguments; a program without '/' is searched in PATH.
  std::vector<std::string> command;
  // Optional scenario file: its path goes to ranks as CROSSLINK_SCENARIO (made absolute), its text
  // is served by the coordinator's Register.
  std::string scenario_path;
  absl::Duration timeout = absl::InfiniteDuration();
  // Coordinator port; 0 picks an ephemeral one.
  int port = 0;
  // After the first failure, how long ranks still running get to notice (through the coordinator)
  // and exit on their own before the launcher terminates them. 5 s covers a few heartbeat
  // intervals plus an orderly shutdown.
  absl::Duration grace_period = absl::Seconds(5);
  // Time between SIGTERM and SIGKILL when terminating ranks.
  absl::Duration kill_after = absl::Seconds(2);
  OutputMode output = OutputMode::kPrefix;
  absl::Duration heartbeat_interval = absl::Seconds(1);
  int heartbeat_miss_count = 3;
  absl::Duration rendezvous_timeout = absl::Minutes(5);
  // ParseLaunchArgs met -h or --help (nothing else was checked): print LaunchUsage(), run nothing.
  bool help = false;
  // Ranks that must keep running for the job to go on after a failure (see the file comment);
  // 0 means num_ranks: any failure ends the job.
  int min_ranks = 0;
  // Restarts per rank (--max-restarts K, restart_policy.h): a rank that fails (non-zero exit or a
  // signal) is started again, after a backoff, with CROSSLINK_RESTART_COUNT = its restart number
  // (every rank's first process gets 0), so that an elastic job's new process rejoins
  // (communicator.h). While a rank waits for its restart it counts towards min_ranks. A failure
  // beyond K is handled as without restarts. 0: never restart (today's behaviour).
  int max_restarts = 0;
  // TLS for the coordinator (--tls-cert, --tls-key, --tls-ca or CROSSLINK_TLS_*): it serves TLS
  // with the certificate and key, and the ranks get CROSSLINK_TLS_CA = tls_ca_file, or the
  // certificate itself when that is empty (a self-signed one), so the job token never travels in
  // clear. Both cert and key, or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  // --netns (root only; needs scenario_path): every rank runs in its own network namespace,
  // joined by veth links that the scenario's true contact plan cuts and restores in orbit time
  // (runtime/src/netns_job.h). The namespaces are removed when the job ends, however it ends.
  bool netns = false;
};

// How one rank ended.
struct RankExit {
  int rank = -1;
  bool signaled = false;
  // The exit status, or the signal number when signaled.
  int status = 0;
  // Seconds since the launch began.
  double wall_s = 0;
  // The launcher had begun ending ranks (timeout, grace period, forwarded signal) when it exited.
  bool terminated_by_launcher = false;
  // The launcher started this rank again after this exit (--max-restarts).
  bool restarted = false;

  bool ok() const { return !signaled && status == 0; }
  // The launcher's exit code for this exit: status, or 128 + signal.
  int ExitCode() const { return signaled ? 128 + status : status; }
  // "exited with status 3", "was killed by signal 9 (SIGKILL)".
  std::string Describe() const;
};

struct LaunchResult {
  int exit_code = 0;
  // In the order the launcher reaped them.
  std::vector<RankExit> exits;
  // The first rank that failed on its own (not one the launcher killed after it) when the job
  // ended because of it.
  std::optional<RankExit> first_failure;
  // Failures the job went on without (min_ranks), in the order they happened.
  std::vector<RankExit> tolerated_failures;
  // Restarts the launcher made (--max-restarts), over all ranks.
  int restarts = 0;
  bool timed_out = false;
  // One line, e.g. "rank 1 failed first: exited with status 3 after 0.2s; ranks [0, 2] exited 0;
  // exit code 3".
  std::string summary;
};

// Parses crosslink-run's arguments (without argv[0]):
//   -n N [--scenario FILE] [--timeout SECONDS] [--port P] [--grace SECONDS]
//   [--min-ranks M] [--max-restarts K] [--output prefix|raw] -- PROGRAM ARGS...
// Options take "--opt VALUE" or "--opt=VALUE" (crosslink/base/flags.h); the program may also
// follow the options without "--". kInvalidArgument naming the bad argument.
absl::StatusOr<LaunchOptions> ParseLaunchArgs(const std::vector<std::string>& args);

// crosslink-run's --help: the usage text and one line per flag.
std::string LaunchUsage();

// Runs the job to the end (see the file comment). Errors (kInvalidArgument for bad options,
// kNotFound for an unreadable scenario or a program that is not found or not executable,
// kUnavailable when the coordinator cannot bind, kInternal when a system call such as fork, pipe
// or signalfd fails) mean the job did not start; a job whose ranks fail returns OK with a non-zero
// exit_code.
absl::StatusOr<LaunchResult> RunLocalJob(const LaunchOptions& options);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_LAUNCHER_H_
