// What a crosslink-chaos campaign measured, and how it is printed and written as CSV: faults by
// kind, collectives completed, wrong results, hangs past the deadline, recovery times (fault to
// the next completed collective, median and max over all faults and per kind), the final state
// hashes of the ranks, and whether the campaign passed. Thread-compatible.
#ifndef CROSSLINK_BENCH_CHAOS_CAMPAIGN_REPORT_H_
#define CROSSLINK_BENCH_CHAOS_CAMPAIGN_REPORT_H_

#include <array>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/chaos/fault_schedule.h"

namespace crosslink::chaos {

struct CampaignReport {
  int ranks = 0;
  uint64_t seed = 0;
  double wall_s = 0;
  std::array<int64_t, kFaultKinds> faults{};  // by FaultKind
  // Recovery seconds per fault, by kind (a fault that never recovered is a hang, not here).
  std::array<std::vector<double>, kFaultKinds> recovery_s;
  int64_t collectives_completed = 0;  // committed steps: each one allreduce every live rank did
  int64_t failed_collectives = 0;     // calls that failed and were retried (a fault's effect)
  int64_t wrong_results = 0;
  int64_t hangs = 0;  // faults not recovered within the hang deadline, or no progress for as long
  int64_t restarts = 0;
  int64_t stale_refused = 0;  // SIGCONTed processes the coordinator refused (they exit 3)
  // Collectives that failed with kDataLoss without a CRC mismatch (a connection met a frame its
  // protocol did not expect): caught, never a wrong result, but no injected fault explains them.
  int64_t protocol_errors = 0;
  // Processes that left because their communicator broke on a failure no death explained in
  // time (communicator.h), then rejoined: a fault's collateral, never a wrong result.
  int64_t broken_left = 0;
  std::map<int, uint64_t> final_hashes;  // rank -> state hash at the final step
  std::map<int, int64_t> final_steps;
  std::vector<std::string> problems;  // what failed the campaign, one line each

  int64_t total_faults() const;
  bool hashes_equal() const;
  // Passed: no wrong result, no hang, every rank ended with the same hash at the same step.
  bool passed() const;
};

// The median and max of `values` (0 when empty).
double Median(std::vector<double> values);
double Max(const std::vector<double>& values);

void PrintReport(const CampaignReport& report, std::ostream& out);
// One row per fault kind and one "all" row: kind, faults, recovered, median_recovery_s,
// max_recovery_s; then the campaign's totals as rows of "metric,value". kUnavailable naming the
// file when it cannot be written.
absl::Status WriteCsv(const CampaignReport& report, const std::string& path);

}  // namespace crosslink::chaos

#endif  // CROSSLINK_BENCH_CHAOS_CAMPAIGN_REPORT_H_
