#include "bench/lib/ring_bound.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"

namespace crosslink::bench {

double RingAllreduceBoundS(int ranks, double bytes, double rate_bytes_per_s, double latency_s) {
  if (ranks <= 1) return 0.0;
  const double n = ranks;
  return 2.0 * (n - 1.0) / n * bytes / rate_bytes_per_s + 2.0 * (n - 1.0) * latency_s;
}

absl::StatusOr<RingLinkParams> RingLinkParamsAt(const linkmodel::ContactPlan& plan,
                                                const std::vector<int>& rank_satellites,
                                                double t_s) {
  const int n = static_cast<int>(rank_satellites.size());
  if (n < 2) {
    return absl::InvalidArgumentError(absl::StrCat("ring bound needs at least 2 ranks, got ", n));
  }
  for (int r = 0; r < n; ++r) {
    const int sat = rank_satellites[r];
    if (sat < 0 || sat >= plan.num_satellites()) {
      return absl::InvalidArgumentError(absl::StrCat("rank ", r, " is on satellite index ", sat,
                                                     ", outside the contact plan's ",
                                                     plan.num_satellites(), " satellites"));
    }
  }
  RingLinkParams params;
  bool first = true;
  for (int r = 0; r < n; ++r) {
    const int a = rank_satellites[r];
    const int b = rank_satellites[(r + 1) % n];
    double rate_bps = 0;
    double latency_s = 0;
    if (a == b) {
      // Two ranks on one satellite never cross a laser link; they do not bound the ring.
      continue;
    }
    if (plan.Up(a, b, t_s)) {
      auto rate = plan.RateAt(a, b, t_s);
      auto latency = plan.LatencyAt(a, b, t_s);
      if (!rate.ok()) return rate.status();
      if (!latency.ok()) return latency.status();
      rate_bps = *rate;
      latency_s = *latency;
    } else {
      std::optional<linkmodel::Path> path = plan.ShortestPath(a, b, t_s);
      if (!path.has_value()) {
        return absl::UnavailableError(absl::StrCat("ring hop rank ", r, " -> rank ", (r + 1) % n,
                                                   " (satellites ", plan.satellite_names()[a],
                                                   " -> ", plan.satellite_names()[b],
                                                   ") has no route at t=", t_s, " s"));
      }
      rate_bps = path->rate_bps;
      latency_s = path->latency_s;
    }
    const double rate_bytes_per_s = rate_bps / 8.0;
    if (first) {
      params.rate_bytes_per_s = rate_bytes_per_s;
      params.latency_s = latency_s;
      first = false;
    } else {
      params.rate_bytes_per_s = std::min(params.rate_bytes_per_s, rate_bytes_per_s);
      params.latency_s = std::max(params.latency_s, latency_s);
    }
  }
  if (first) {
    return absl::InvalidArgumentError("every rank of the ring is on the same satellite");
  }
  return params;
}

}  // namespace crosslink::bench
