#include "bench/chaos/campaign.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/chaos/child_process.h"
#include "bench/chaos/worker_events.h"
#include "crosslink/runtime/coordinator_client.h"
#include "runtime/src/restart_policy.h"  // crosslink-run's restart backoff

namespace crosslink::chaos {
namespace {

namespace fs = std::filesystem;

// A port nobody listens on now, for the coordinator (kept across its restarts, as a supervisor
// would). Bound and released: another process could take it meanwhile, which Start reports.
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("bind: ", std::strerror(errno)));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string RandomHex(std::mt19937_64& rng) { return absl::StrFormat("%016x%016x", rng(), rng()); }

// The job's scenario: a formation of `ranks` satellites a few hundred metres apart whose links
// fail at random ([faults] link_mtbf_s) and corrupt a message now and then (corruption_mtbf_s),
// both from the campaign's seed, played at one orbit second per wall second.
std::string ScenarioText(const CampaignOptions& o) {
  std::string satellites;
  for (int r = 0; r < o.ranks; ++r) absl::StrAppend(&satellites, r ? ", " : "", "\"C0S", r, "\"");
  std::string faults = absl::StrCat("seed = ", o.seed, "\n");
  if (o.link_mtbf_s > 0) {
    absl::StrAppend(&faults, "link_mtbf_s = ", o.link_mtbf_s, "\nlink_mttr_s = ", o.link_mttr_s,
                    "\n");
  }
  if (o.corruption_mtbf_s > 0) {
    absl::StrAppend(&faults, "corruption_mtbf_s = ", o.corruption_mtbf_s, "\n");
  }
  return absl::StrCat(R"([time]
start_utc = "2025-01-23T00:00:00Z"
duration_s = 86400.0
step_s = 1.0
time_scale = 1.0

[constellation]
type = "formation"

[[constellation.cluster]]
count = )",
                      o.ranks, R"(
radius_km = 0.5
altitude_km = 650.0

[links]
topology = "in-range"
terminals = 0
max_range_km = 30.0
polar_cutoff_deg = 0.0
sun_exclusion_deg = 0.0
acquisition_s = 0.0
rate_bps = 10e9

[faults]
)",
                      faults, "\n[cluster]\nsatellites = [", satellites, "]\n");
}

absl::Status WriteFileAtomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("rename ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

// A fault waiting for the job to recover from it.
struct OpenFault {
  FaultKind kind;
  int rank = -1;
  absl::Time at;                 // when it was injected (or met)
  int64_t epoch = 0;             // the membership epoch when it happened
  absl::Time recovered_after;    // a completed collective must come after this
  bool needs_new_epoch = false;  // ... and at a later epoch (the job absorbed a death)
  bool needs_full_job = false;   // ... with every rank live (a join)
  bool driver = false;           // the scheduled fault (the next waits for it)
  uint64_t seq = 0;              // kCorruption: the collective that met it
};

class Campaign {
 public:
  explicit Campaign(CampaignOptions o)
      : o_(std::move(o)),
        rng_(o_.seed ^ 0x6368616f73ull),
        schedule_(o_.seed, o_.ranks, o_.weights),
        // Backoff as crosslink-run's, shortened: the driver reports each death to the
        // coordinator at once, so the new process never finds its old self still registered.
        policy_(1 << 30, absl::Milliseconds(100), absl::Milliseconds(400)),
        ranks_(static_cast<size_t>(o_.ranks)) {
    report_.ranks = o_.ranks;
    report_.seed = o_.seed;
  }

  absl::StatusOr<CampaignReport> Run();

 private:
  struct Rank {
    std::unique_ptr<ChildProcess> process;
    std::optional<absl::Time> start_at;    // a restart (or the late first start) is due
    std::optional<absl::Time> cont_at;     // SIGSTOPped until then
    std::optional<absl::Time> hold_until;  // a late joiner: no restart before then
    bool finished = false;
  };
  struct Event {
    int rank;
    WorkerEvent e;
  };

  absl::Status StartCoordinator();
  absl::Status StartRank(int rank);
  void OnRankExit(int rank, int status);
  void Reap();
  // Sends the death reports not yet delivered (the coordinator may be down).
  void SendReports();
  void HandleEvent(const Event& ev);
  void Inject(absl::Time now);
  void CheckRecovered(const WorkerEvent& step, absl::Time t);
  bool AllLive() const;
  void Abort(const std::string& why);
  void KillEverything();
  static absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

  CampaignOptions o_;
  std::mt19937_64 rng_;
  FaultSchedule schedule_;
  runtime::RestartPolicy policy_;
  std::vector<Rank> ranks_;
  CampaignReport report_;
  fs::path dir_, scenario_path_, state_path_, stop_path_;
  std::string token_, launcher_token_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> coordinator_;
  std::optional<absl::Time> coordinator_start_at_;
  absl::Time coordinator_started_;
  std::unique_ptr<runtime::CoordinatorClient> reporter_;
  std::deque<std::pair<int, std::string>> pending_reports_;  // rank, reason

  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);

  // The job as the events show it.
  int64_t epoch_ = 0;
  int live_ = 0;
  absl::Time live_at_;  // when live_ was last reported
  int64_t max_step_ = 0;
  absl::Time last_step_at_;
  std::vector<OpenFault> open_;
  // Collectives that failed with kDataLoss (by sequence number): whether a CRC mismatch did it.
  std::map<uint64_t, bool> data_loss_;
  bool driver_fault_open_ = false;
  absl::Time next_injection_ = absl::InfinitePast();
  absl::Time rejoin_after_ = absl::InfinitePast();  // all ranks live counts after this only
  bool aborted_ = false;
};

absl::Status Campaign::StartCoordinator() {
  std::vector<std::string> argv = {o_.coordinator_path,
                                   "-n",
                                   absl::StrCat(o_.ranks),
                                   "--port",
                                   absl::StrCat(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--state",
                                   state_path_.string(),
                                   "--scenario",
                                   scenario_path_.string(),
                                   "--job-id",
                                   "crosslink-chaos",
                                   "--heartbeat-interval",
                                   absl::StrCat(o_.heartbeat_interval_s),
                                   "--heartbeat-miss-count",
                                   absl::StrCat(o_.heartbeat_miss)};
  auto child = ChildProcess::Start(
      argv, {"CROSSLINK_JOB_TOKEN=" + token_, "CROSSLINK_LAUNCHER_TOKEN=" + launcher_token_},
      (dir_ / "coordinator.log").string(), [](const std::string&) {});
  if (!child.ok()) return child.status();
  coordinator_ = *std::move(child);
  coordinator_started_ = absl::Now();
  return absl::OkStatus();
}

absl::Status Campaign::StartRank(int rank) {
  Rank& r = ranks_[static_cast<size_t>(rank)];
  r.start_at.reset();
  // A report still pending about the rank's last process must never reach the coordinator once
  // the new process may have rejoined (it would declare the new one dead); the coordinator's
  // failure detector covers the old one.
  std::erase_if(pending_reports_, [rank](const auto& report) { return report.first == rank; });
  const std::vector<std::string> argv = {o_.worker_path,
                                         "--stop-file",
                                         stop_path_.string(),
                                         "--state-floats",
                                         absl::StrCat(o_.state_floats),
                                         "--step-deadline-s",
                                         absl::StrCat(o_.step_deadline_s),
                                         "--give-up-s",
                                         absl::StrCat(o_.hang_s),
                                         "--compute-ms",
                                         absl::StrCat(o_.compute_ms)};
  const std::vector<std::string> env = {
      absl::StrCat("RANK=", rank), absl::StrCat("WORLD_SIZE=", o_.ranks),
      absl::StrCat("LOCAL_RANK=", rank), absl::StrCat("LOCAL_WORLD_SIZE=", o_.ranks),
      "MASTER_ADDR=127.0.0.1", absl::StrCat("MASTER_PORT=", port_), "CROSSLINK_JOB_TOKEN=" + token_,
      "CROSSLINK_SCENARIO=" + scenario_path_.string(), "CROSSLINK_ELASTIC=1",
      "CROSSLINK_COORDINATOR=external",
      absl::StrCat("CROSSLINK_RESTART_COUNT=", policy_.restarts(rank)),
      // Longer than a coordinator restart takes, so the job rides it out.
      "CROSSLINK_COORDINATOR_TIMEOUT=30"};
  // Every line also goes to the rank's log next to its stderr, for a post-mortem.
  auto log =
      std::make_shared<std::ofstream>(dir_ / absl::StrCat("rank", rank, ".out"), std::ios::app);
  auto child = ChildProcess::Start(argv, env, (dir_ / absl::StrCat("rank", rank, ".log")).string(),
                                   [this, rank, log](const std::string& line) {
                                     *log << line << "\n";
                                     log->flush();
                                     std::optional<WorkerEvent> e = ParseEvent(line);
                                     if (!e.has_value()) return;  // the runtime's own output
                                     absl::MutexLock lock(&mu_);
                                     events_.push_back(Event{rank, *std::move(e)});
                                   });
  if (!child.ok()) return child.status();
  r.process = *std::move(child);
  return absl::OkStatus();
}

bool Campaign::AllLive() const {
  for (const Rank& r : ranks_) {
    if (r.process == nullptr || r.cont_at.has_value()) return false;
  }
  return live_ == o_.ranks && live_at_ > rejoin_after_;
}

void Campaign::OnRankExit(int rank, int status) {
  Rank& r = ranks_[static_cast<size_t>(rank)];
  r.cont_at.reset();
  // The pipe is at its end once the process is gone: the reader thread finishes.
  r.process.reset();
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (clean) {
    r.finished = true;
    return;
  }
  const std::string how = WIFSIGNALED(status)
                              ? absl::StrCat("was killed by signal ", WTERMSIG(status))
                              : absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (o_.verbose) std::cerr << "crosslink-chaos: rank " << rank << " " << how << "\n";
  // Tell the coordinator at once, as crosslink-run does (a stale incarnation, exit 3, is dead
  // there already); while it is down (a coordinator fault) the report is retried until it lands.
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 3)) {
    pending_reports_.emplace_back(rank, absl::StrCat("rank ", rank, " ", how));
    SendReports();
  }
  std::optional<absl::Time> at = policy_.OnFailure(rank, absl::Now());
  if (!at.has_value()) {
    Abort(absl::StrCat("rank ", rank, " ran out of restarts"));
    return;
  }
  if (r.hold_until.has_value()) {
    at = std::max(*at, *r.hold_until);
    r.hold_until.reset();
  }
  r.start_at = *at;
  ++report_.restarts;
  rejoin_after_ = *at;
}

void Campaign::SendReports() {
  while (!pending_reports_.empty() && coordinator_ != nullptr && reporter_ != nullptr) {
    const auto& [rank, reason] = pending_reports_.front();
    const absl::Status s =
        reporter_->ReportFailure(rank, reason, absl::Now() + absl::Milliseconds(500)).status();
    // kUnavailable/kDeadlineExceeded: the coordinator is not back yet; anything else (the rank
    // is dead there already) is an answer.
    if (s.code() == absl::StatusCode::kUnavailable ||
        s.code() == absl::StatusCode::kDeadlineExceeded) {
      return;
    }
    pending_reports_.pop_front();
  }
}

void Campaign::Reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (coordinator_ != nullptr && pid == coordinator_->pid()) {
      coordinator_.reset();
      if (!coordinator_start_at_.has_value()) {
        // Not killed by the campaign: restart it too, but the campaign failed.
        report_.problems.push_back(absl::StrCat("the coordinator died on its own (status ", status,
                                                "); see coordinator.log"));
        coordinator_start_at_ = absl::Now();
      }
      continue;
    }
    for (int rank = 0; rank < o_.ranks; ++rank) {
      Rank& r = ranks_[static_cast<size_t>(rank)];
      if (r.process != nullptr && r.process->pid() == pid) {
        OnRankExit(rank, status);
        break;
      }
    }
  }
}

void Campaign::CheckRecovered(const WorkerEvent& step, absl::Time t) {
  for (size_t i = 0; i < open_.size();) {
    const OpenFault& f = open_[i];
    const bool ok = t > f.recovered_after && (!f.needs_new_epoch || step.epoch > f.epoch) &&
                    (!f.needs_full_job || step.live == o_.ranks);
    if (!ok) {
      ++i;
      continue;
    }
    // A protocol error's recovery is not a fault's (no fault was injected).
    if (f.kind != FaultKind::kCorruption || data_loss_[f.seq]) {
      report_.recovery_s[static_cast<int>(f.kind)].push_back(absl::ToDoubleSeconds(t - f.at));
    }
    if (f.driver) {
      driver_fault_open_ = false;
    }
    open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void Campaign::HandleEvent(const Event& ev) {
  const WorkerEvent& e = ev.e;
  const absl::Time t = FromMicros(e.t_us);
  switch (e.kind) {
    case EventKind::kStep:
      if (e.step > max_step_) {
        report_.collectives_completed += e.step - max_step_;
        max_step_ = e.step;
      }
      if (t >= live_at_) {
        epoch_ = std::max(epoch_, e.epoch);
        live_ = e.live;
        live_at_ = t;
      }
      last_step_at_ = std::max(last_step_at_, t);
      if (e.outages > 0) {
        // The collective that met the cuts completed: its duration bounds each one's recovery
        // (one entry per cut, so that "recovered" counts cuts as "injected" does).
        report_.faults[static_cast<int>(FaultKind::kLinkCut)] += e.outages;
        auto& recoveries = report_.recovery_s[static_cast<int>(FaultKind::kLinkCut)];
        recoveries.insert(recoveries.end(), static_cast<size_t>(e.outages), e.dur_us * 1e-6);
      }
      CheckRecovered(e, t);
      break;
    case EventKind::kDataLoss: {
      // The rank that caught a bit error ("CRC32C mismatch") aborts the collective with
      // kDataLoss on the others too: one fault per collective. A kDataLoss without a CRC
      // mismatch anywhere in its collective is a transport protocol error (a frame the
      // connection did not expect), counted apart: no bit error explains it.
      const bool crc = e.msg.find("CRC32C") != std::string::npos;
      auto [it, first] = data_loss_.emplace(e.seq, crc);
      if (!first) {
        if (crc && !it->second) {
          it->second = true;
          --report_.protocol_errors;
          ++report_.faults[static_cast<int>(FaultKind::kCorruption)];
        }
        break;
      }
      ++(crc ? report_.faults[static_cast<int>(FaultKind::kCorruption)] : report_.protocol_errors);
      // The rank that caught it leaves (its communicator is broken); the job recovers once the
      // survivors completed a collective without it.
      OpenFault open{FaultKind::kCorruption, ev.rank, t, epoch_, t, true, false, false};
      open.seq = e.seq;
      open_.push_back(open);
      if (o_.verbose) {
        std::cerr << "crosslink-chaos: rank " << ev.rank << " caught " << e.msg << "\n";
      }
      break;
    }
    case EventKind::kWrong:
      ++report_.wrong_results;
      report_.problems.push_back(absl::StrCat("rank ", ev.rank, " wrong result: ", e.msg));
      break;
    case EventKind::kRefused:
      ++report_.stale_refused;
      break;
    case EventKind::kBroken:
      ++report_.broken_left;
      break;
    case EventKind::kError:
      if (e.stage == "allreduce") ++report_.failed_collectives;
      break;
    case EventKind::kFinal:
      report_.final_hashes[ev.rank] = e.hash;
      report_.final_steps[ev.rank] = e.step;
      break;
    case EventKind::kFatal:
      // A rank met an error no fault explains (or made no progress): the campaign failed here.
      Abort(absl::StrCat("rank ", ev.rank, " gave up: ", e.msg));
      break;
    case EventKind::kReady:
      break;
  }
}

void Campaign::Inject(absl::Time now) {
  const ScheduledFault f = schedule_.Next();
  Rank& victim = ranks_[static_cast<size_t>(f.rank)];
  OpenFault open{f.kind, f.rank, now, epoch_, now, true, false, true};
  switch (f.kind) {
    case FaultKind::kRankKill:
      victim.process->Signal(SIGKILL);
      break;
    case FaultKind::kRankStop: {
      victim.process->Signal(SIGSTOP);
      const double window_s = o_.heartbeat_interval_s * o_.heartbeat_miss;
      victim.cont_at = now + absl::Seconds(window_s * o_.stop_factor);
      break;
    }
    case FaultKind::kCoordinatorKill:
      coordinator_->Signal(SIGKILL);
      coordinator_start_at_ = now + absl::Seconds(o_.coordinator_down_s);
      // No death: the job goes on at the same epoch once the coordinator is back.
      open.needs_new_epoch = false;
      open.recovered_after = *coordinator_start_at_;
      break;
    case FaultKind::kLateJoin:
      // Away for late_join_s while the others go on; measured from its return to the first
      // collective it takes part in.
      victim.process->Signal(SIGKILL);
      victim.hold_until = now + absl::Seconds(o_.late_join_s);
      open.at = *victim.hold_until;
      open.recovered_after = *victim.hold_until;
      open.needs_new_epoch = false;
      open.needs_full_job = true;
      break;
    default:
      break;
  }
  ++report_.faults[static_cast<int>(f.kind)];
  open_.push_back(open);
  driver_fault_open_ = true;
  // Every rank must be seen live again after this fault before the next one.
  rejoin_after_ = now;
  if (o_.verbose) {
    std::cerr << "crosslink-chaos: fault " << report_.total_faults() << ": " << FaultName(f.kind)
              << (f.kind == FaultKind::kCoordinatorKill ? std::string()
                                                        : absl::StrCat(" rank ", f.rank))
              << "\n";
  }
}

void Campaign::Abort(const std::string& why) {
  if (!aborted_) report_.problems.push_back(why);
  aborted_ = true;
}

void Campaign::KillEverything() {
  for (Rank& r : ranks_) {
    if (r.process != nullptr) {
      r.process->Signal(SIGKILL);
      r.process->Signal(SIGCONT);
    }
  }
  if (coordinator_ != nullptr) coordinator_->Signal(SIGKILL);
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0) break;  // no children left
    if (pid == 0) {
      absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    if (coordinator_ != nullptr && pid == coordinator_->pid()) coordinator_.reset();
    for (Rank& r : ranks_) {
      if (r.process != nullptr && r.process->pid() == pid) r.process.reset();
    }
  }
}

absl::StatusOr<CampaignReport> Campaign::Run() {
  if (o_.ranks < 2) return absl::InvalidArgumentError("--ranks must be at least 2");
  for (const std::string& p : {o_.worker_path, o_.coordinator_path}) {
    if (access(p.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("program ", p, " is missing or not executable"));
    }
  }
  dir_ = o_.work_dir;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir_.string(), ": ", ec.message()));
  scenario_path_ = dir_ / "chaos.toml";
  state_path_ = dir_ / "coordinator.state";
  stop_path_ = dir_ / "stop";
  fs::remove(state_path_, ec);
  fs::remove(stop_path_, ec);
  if (absl::Status s = WriteFileAtomically(scenario_path_, ScenarioText(o_)); !s.ok()) return s;
  token_ = RandomHex(rng_);
  launcher_token_ = RandomHex(rng_);
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  port_ = *port;

  const absl::Time start = absl::Now();
  if (absl::Status s = StartCoordinator(); !s.ok()) return s;
  runtime::CoordinatorClientOptions client_options;
  client_options.address = absl::StrCat("127.0.0.1:", port_);
  client_options.job_token = token_;
  client_options.launcher_token = launcher_token_;
  absl::StatusOr<std::unique_ptr<runtime::CoordinatorClient>> reporter =
      runtime::CoordinatorClient::Create(client_options);
  if (!reporter.ok()) return reporter.status();
  reporter_ = *std::move(reporter);
  // Every rank but the last starts now; the last joins late (the first late join), after the
  // others have registered and wait for it.
  for (int rank = 0; rank + 1 < o_.ranks; ++rank) {
    if (absl::Status s = StartRank(rank); !s.ok()) return s;
  }
  ranks_.back().start_at = start + absl::Seconds(o_.late_join_s);
  ++report_.faults[static_cast<int>(FaultKind::kLateJoin)];
  open_.push_back(OpenFault{FaultKind::kLateJoin, o_.ranks - 1, *ranks_.back().start_at, 0,
                            *ranks_.back().start_at, false, true, true});
  driver_fault_open_ = true;
  last_step_at_ = start + absl::Seconds(o_.late_join_s);

  bool stopping = false;
  absl::Time stop_deadline = absl::InfiniteFuture();
  for (;;) {
    const absl::Time now = absl::Now();
    Reap();
    SendReports();
    if (coordinator_start_at_.has_value() && now >= *coordinator_start_at_ &&
        coordinator_ == nullptr) {
      coordinator_start_at_.reset();
      if (absl::Status s = StartCoordinator(); !s.ok()) {
        Abort(absl::StrCat("coordinator restart: ", s.ToString()));
      }
    }
    for (int rank = 0; rank < o_.ranks; ++rank) {
      Rank& r = ranks_[static_cast<size_t>(rank)];
      if (r.cont_at.has_value() && now >= *r.cont_at && r.process != nullptr) {
        r.process->Signal(SIGCONT);
        r.cont_at.reset();
      }
      if (r.start_at.has_value() && now >= *r.start_at && r.process == nullptr && !aborted_) {
        if (absl::Status s = StartRank(rank); !s.ok()) Abort(s.ToString());
      }
    }
    std::deque<Event> events;
    {
      absl::MutexLock lock(&mu_);
      events.swap(events_);
    }
    for (const Event& ev : events) HandleEvent(ev);

    if (aborted_) break;
    if (!stopping) {
      // Hangs: a fault not recovered in time, or a job that stopped completing collectives.
      for (const OpenFault& f : open_) {
        if (now - f.at > absl::Seconds(o_.hang_s)) {
          ++report_.hangs;
          Abort(absl::StrCat(FaultName(f.kind), " of rank ", f.rank, " injected ",
                             absl::FormatDuration(now - f.at),
                             " ago never recovered (no collective completed after it)"));
          break;
        }
      }
      if (!aborted_ && now - last_step_at_ > absl::Seconds(o_.hang_s)) {
        ++report_.hangs;
        Abort(absl::StrCat("no collective completed for ", o_.hang_s, " s"));
      }
      if (aborted_) break;
      if (!driver_fault_open_ && AllLive()) {
        if (next_injection_ == absl::InfinitePast())
          next_injection_ = now + absl::Seconds(o_.gap_s);
        if (report_.total_faults() >= o_.faults) {
          // Done: every rank stops at one step a little ahead of the job.
          if (absl::Status s = WriteFileAtomically(stop_path_, absl::StrCat(max_step_ + 10, "\n"));
              !s.ok()) {
            Abort(s.ToString());
            break;
          }
          stopping = true;
          stop_deadline = now + absl::Seconds(o_.hang_s);
        } else if (now >= next_injection_) {
          next_injection_ = absl::InfinitePast();
          Inject(now);
        }
      }
    } else {
      bool all_finished = true;
      for (const Rank& r : ranks_) all_finished = all_finished && r.finished;
      if (all_finished) break;
      if (now > stop_deadline) {
        ++report_.hangs;
        Abort("ranks did not all stop at the agreed step within the hang deadline");
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Ranks stopping at the agreed step leave the job (departures) before the coordinator ends.
  KillEverything();
  {
    absl::MutexLock lock(&mu_);
    for (const Event& ev : events_) HandleEvent(ev);
    events_.clear();
  }
  report_.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  return report_;
}

}  // namespace

absl::StatusOr<CampaignReport> RunCampaign(const CampaignOptions& options) {
  Campaign campaign(options);
  return campaign.Run();
}

}  // namespace crosslink::chaos
