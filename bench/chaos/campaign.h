// Campaign: the driver of crosslink-chaos. It runs an elastic job of N crosslink-chaos-worker
// ranks against a crosslink-coordinator process (with a state file, so it can be killed and
// restarted), the way crosslink-run would (launcher environment, restarts with the launcher's
// RestartPolicy, deaths reported to the coordinator with the launcher's credential), over a
// generated scenario (a formation of N satellites whose links fail at random and corrupt
// messages now and then, seeded), and injects faults from a seeded FaultSchedule one at a time:
// each waits until the job recovered (the next collective completed after it) and every rank
// is back in, then the next follows after a short gap. It ends when `faults` faults happened
// (driver-injected and scenario-made together), stops every rank at one agreed step and compares
// their state hashes. Run blocks; one campaign per process (it reaps every child with waitpid).
#ifndef CROSSLINK_BENCH_CHAOS_CAMPAIGN_H_
#define CROSSLINK_BENCH_CHAOS_CAMPAIGN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bench/chaos/campaign_report.h"
#include "bench/chaos/fault_schedule.h"

namespace crosslink::chaos {

struct CampaignOptions {
  int ranks = 4;
  int64_t faults = 100;
  uint64_t seed = 1;
  std::string worker_path;       // crosslink-chaos-worker
  std::string coordinator_path;  // crosslink-coordinator
  std::string work_dir;          // scenario, state file, stop file, logs (created if missing)
  // A fault not recovered within this long, or a job without a completed collective for as long,
  // is a hang: the campaign stops there and fails.
  double hang_s = 60;
  // Deadline of every call of a worker's step (Quorum, SyncState, Allreduce, ShouldCommit).
  double step_deadline_s = 20;
  // The coordinator's failure detector: a rank missing heartbeat_miss heartbeats is dead.
  double heartbeat_interval_s = 0.5;
  int heartbeat_miss = 3;
  // SIGSTOP lasts the heartbeat window times this (> 1: the rank is declared dead first).
  double stop_factor = 2;
  double coordinator_down_s = 0.5;  // between a coordinator's kill and its restart
  double late_join_s = 1;           // how long a late joiner stays away
  double gap_s = 0.2;               // between one fault's full recovery and the next fault
  // The scenario's fault processes (orbit seconds, played at time scale 1): per link, and for
  // bit errors per link and direction. 0 disables. Link cuts are frequent because they are cheap
  // (a resumed link only delays a collective); bit errors cost a restart and a rejoin each.
  double link_mtbf_s = 4;
  double link_mttr_s = 0.3;
  double corruption_mtbf_s = 60;
  FaultWeights weights;
  int state_floats = 4096;
  double compute_ms = 5;
  bool verbose = false;  // print every fault as it is injected
};

// Errors: the campaign could not run (kInvalidArgument for bad options, kNotFound for a missing
// program, kInternal for a failed system call, kUnavailable when the coordinator never came up).
// A campaign that ran returns its report, passed or not.
absl::StatusOr<CampaignReport> RunCampaign(const CampaignOptions& options);

}  // namespace crosslink::chaos

#endif  // CROSSLINK_BENCH_CHAOS_CAMPAIGN_H_
