#include "bench/chaos/campaign_report.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::chaos {

int64_t CampaignReport::total_faults() const {
  int64_t total = 0;
  for (int64_t n : faults) total += n;
  return total;
}

bool CampaignReport::hashes_equal() const {
  if (final_hashes.size() != static_cast<size_t>(ranks)) return false;
  std::set<uint64_t> hashes;
  std::set<int64_t> steps;
  for (const auto& [rank, hash] : final_hashes) hashes.insert(hash);
  for (const auto& [rank, step] : final_steps) steps.insert(step);
  return hashes.size() == 1 && steps.size() == 1;
}

bool CampaignReport::passed() const {
  return wrong_results == 0 && hangs == 0 && hashes_equal() && problems.empty();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double Max(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

namespace {

std::vector<double> AllRecoveries(const CampaignReport& r) {
  std::vector<double> all;
  for (const auto& v : r.recovery_s) all.insert(all.end(), v.begin(), v.end());
  return all;
}

}  // namespace

void PrintReport(const CampaignReport& r, std::ostream& out) {
  out << absl::StrFormat("%-18s %8s %10s %12s %12s\n", "# fault", "injected", "recovered",
                         "median_rec_s", "max_rec_s");
  for (int k = 0; k < kFaultKinds; ++k) {
    out << absl::StrFormat("%-18s %8d %10d %12.3f %12.3f\n", FaultName(static_cast<FaultKind>(k)),
                           r.faults[k], r.recovery_s[k].size(), Median(r.recovery_s[k]),
                           Max(r.recovery_s[k]));
  }
  const std::vector<double> all = AllRecoveries(r);
  out << absl::StrFormat("%-18s %8d %10d %12.3f %12.3f\n", "all", r.total_faults(), all.size(),
                         Median(all), Max(all));
  out << absl::StrFormat(
      "ranks=%d seed=%d wall_s=%.1f collectives_completed=%d failed_collectives=%d restarts=%d "
      "stale_refused=%d protocol_errors=%d broken_left=%d\n",
      r.ranks, r.seed, r.wall_s, r.collectives_completed, r.failed_collectives, r.restarts,
      r.stale_refused, r.protocol_errors, r.broken_left);
  std::string hashes;
  for (const auto& [rank, hash] : r.final_hashes) {
    absl::StrAppend(&hashes, hashes.empty() ? "" : " ", rank, ":", absl::StrFormat("%016x", hash),
                    "@", r.final_steps.at(rank));
  }
  out << "final hashes (rank:hash@step): " << (hashes.empty() ? "none" : hashes) << "\n";
  constexpr size_t kShown = 10;  // the first ones explain; the rest follow from them
  for (size_t i = 0; i < r.problems.size() && i < kShown; ++i) {
    out << "problem: " << r.problems[i] << "\n";
  }
  if (r.problems.size() > kShown) out << "... and " << r.problems.size() - kShown << " more\n";
  out << absl::StrFormat(
      "result: %s wrong_results=%d hangs=%d hashes_equal=%s median_recovery_s=%.3f "
      "max_recovery_s=%.3f\n",
      r.passed() ? "PASS" : "FAIL", r.wrong_results, r.hangs, r.hashes_equal() ? "yes" : "no",
      Median(all), Max(all));
}

absl::Status WriteCsv(const CampaignReport& r, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write CSV ", path));
  out << "kind,faults,recovered,median_recovery_s,max_recovery_s\n";
  for (int k = 0; k < kFaultKinds; ++k) {
    out << absl::StrFormat("%s,%d,%d,%.6f,%.6f\n", FaultName(static_cast<FaultKind>(k)),
                           r.faults[k], r.recovery_s[k].size(), Median(r.recovery_s[k]),
                           Max(r.recovery_s[k]));
  }
  const std::vector<double> all = AllRecoveries(r);
  out << absl::StrFormat("all,%d,%d,%.6f,%.6f\n", r.total_faults(), all.size(), Median(all),
                         Max(all));
  out << "metric,value\n";
  out << absl::StrFormat("ranks,%d\nseed,%d\nwall_s,%.3f\n", r.ranks, r.seed, r.wall_s);
  out << absl::StrFormat("collectives_completed,%d\nfailed_collectives,%d\n",
                         r.collectives_completed, r.failed_collectives);
  out << absl::StrFormat("wrong_results,%d\nhangs,%d\nrestarts,%d\nstale_refused,%d\n",
                         r.wrong_results, r.hangs, r.restarts, r.stale_refused);
  out << absl::StrFormat("protocol_errors,%d\nbroken_left,%d\n", r.protocol_errors, r.broken_left);
  out << absl::StrFormat("hashes_equal,%d\npassed,%d\n", r.hashes_equal() ? 1 : 0,
                         r.passed() ? 1 : 0);
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("write to CSV ", path, " failed"));
  return absl::OkStatus();
}

}  // namespace crosslink::chaos
