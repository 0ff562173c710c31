// crosslink-chaos: the fault campaign for elastic membership (README "Fault campaign"). Runs an
// elastic job of --ranks crosslink-chaos-worker ranks doing verified allreduces while it injects
// --faults faults from a seeded schedule: rank SIGKILL (restart, rejoin), SIGSTOP past the
// heartbeat window (the stale process is refused, exits and is restarted), coordinator kill and
// restart, late joins, and from the scenario link cuts under collectives and corrupted messages
// (caught as kDataLoss). Prints faults by kind, collectives completed, wrong results, hangs,
// median and max recovery time (fault to the next completed collective) and the final state
// hashes; writes them as CSV with --csv. Exit 0 when the campaign passed (no wrong result, no
// hang, equal hashes), 1 when it did not, 2 for bad arguments, 3 when it could not run.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/chaos/campaign.h"
#include "crosslink/base/flags.h"

namespace {

// The folder this program lives in: crosslink-chaos-worker and crosslink-coordinator are built
// next to it.
std::filesystem::path ProgramDir(const char* argv0) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = std::filesystem::absolute(argv0);
  return self.parent_path();
}

}  // namespace

int main(int argc, char** argv) {
  crosslink::chaos::CampaignOptions o;
  std::string csv, work_dir;
  int64_t seed = 1;
  crosslink::base::FlagSet flags(
      "crosslink-chaos",
      "usage: crosslink-chaos [--faults N] [--seed S] [--ranks R] [--csv FILE] [options]\n"
      "Fault campaign: an elastic job doing verified allreduces under seeded faults.\n");
  flags.Int64("faults", &o.faults, "faults to inject (driver and scenario together)").Min(1);
  flags.Int64("seed", &seed, "seed of the fault schedule and of the scenario's faults").Min(0);
  flags.Int("ranks", &o.ranks, "ranks in the job").Min(2).Max(64);
  flags.String("csv", &csv, "write the results as CSV here").ValueName("FILE");
  flags.String("work-dir", &work_dir, "scenario, coordinator state, logs (default: a new temp dir)")
      .ValueName("DIR");
  flags.Double("hang-s", &o.hang_s, "a fault not recovered within this long is a hang")
      .Above(0)
      .ValueName("SECONDS");
  flags.Double("step-deadline-s", &o.step_deadline_s, "deadline of each call of a rank's step")
      .Above(0)
      .ValueName("SECONDS");
  flags.Double("heartbeat-interval-s", &o.heartbeat_interval_s, "coordinator heartbeat interval")
      .Above(0)
      .ValueName("SECONDS");
  flags.Int("heartbeat-miss", &o.heartbeat_miss, "missed heartbeats that make a rank dead").Min(1);
  flags.Double("stop-factor", &o.stop_factor, "SIGSTOP lasts this many heartbeat windows").Above(1);
  flags.Double("late-join-s", &o.late_join_s, "how long a late joiner stays away").Min(0);
  flags.Double("gap-s", &o.gap_s, "pause between a fault's recovery and the next fault").Min(0);
  flags.Double("link-mtbf-s", &o.link_mtbf_s, "scenario: mean time between link faults (0: none)")
      .Min(0);
  flags.Double("link-mttr-s", &o.link_mttr_s, "scenario: mean link repair time").Above(0);
  flags
      .Double("corruption-mtbf-s", &o.corruption_mtbf_s,
              "scenario: mean time between bit errors per link direction (0: none)")
      .Min(0);
  flags.Double("weight-kill", &o.weights.kill, "schedule weight of rank SIGKILL").Min(0);
  flags.Double("weight-stop", &o.weights.stop, "schedule weight of rank SIGSTOP").Min(0);
  flags.Double("weight-coordinator", &o.weights.coordinator, "schedule weight of coordinator kill")
      .Min(0);
  flags.Double("weight-late-join", &o.weights.late_join, "schedule weight of a late join").Min(0);
  flags.Int("state-floats", &o.state_floats, "floats of training state per rank")
      .Min(1)
      .Max(1 << 24);
  flags.Double("compute-ms", &o.compute_ms, "per-step sleep standing for computation").Min(0);
  flags.Switch("verbose", &o.verbose, "print every fault as it happens");
  if (std::optional<int> code = flags.ParseMain(argc, argv); code.has_value()) return *code;
  o.seed = static_cast<uint64_t>(seed);
  const std::filesystem::path dir = ProgramDir(argv[0]);
  o.worker_path = (dir / "crosslink-chaos-worker").string();
  o.coordinator_path = (dir / "crosslink-coordinator").string();
  if (work_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "crosslink-chaos.XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "crosslink-chaos: cannot create a work directory in /tmp\n";
      return 3;
    }
    work_dir = tmpl;
  }
  o.work_dir = work_dir;
  std::cout << "crosslink-chaos: " << o.ranks << " ranks, " << o.faults << " faults, seed "
            << o.seed << ", logs in " << o.work_dir << std::endl;
  absl::StatusOr<crosslink::chaos::CampaignReport> report = crosslink::chaos::RunCampaign(o);
  if (!report.ok()) {
    std::cerr << "crosslink-chaos: " << report.status() << "\n";
    return 3;
  }
  crosslink::chaos::PrintReport(*report, std::cout);
  if (!csv.empty()) {
    if (absl::Status s = crosslink::chaos::WriteCsv(*report, csv); !s.ok()) {
      std::cerr << "crosslink-chaos: " << s << "\n";
      return 3;
    }
  }
  return report->passed() ? 0 : 1;
}
