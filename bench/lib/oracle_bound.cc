#include "bench/lib/oracle_bound.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::bench {

bool RankLinksHaveDownTime(const linkmodel::ContactPlan& truth,
                           const std::vector<int>& rank_satellites, double t0_s, double t1_s) {
  for (size_t i = 0; i < rank_satellites.size(); ++i) {
    for (size_t j = i + 1; j < rank_satellites.size(); ++j) {
      std::optional<int> link = truth.FindLink(rank_satellites[i], rank_satellites[j]);
      if (!link.has_value()) continue;
      for (const linkmodel::Segment& s : truth.links()[*link].segments) {
        // Segments are [start, end); one that overlaps [t0, t1] in a down state is down time.
        if (s.state != linkmodel::LinkState::kUp && s.start_s <= t1_s && s.end_s > t0_s) {
          return true;
        }
      }
    }
  }
  return false;
}

absl::StatusOr<linkmodel::ContactPlan> WallFramePlan(const linkmodel::ContactPlan& plan,
                                                     double time_scale) {
  if (!(time_scale > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("time_scale ", time_scale, " must be > 0"));
  }
  std::vector<linkmodel::Link> links = plan.links();
  for (linkmodel::Link& link : links) {
    for (linkmodel::Segment& s : link.segments) {
      s.start_s /= time_scale;
      s.end_s /= time_scale;
    }
  }
  return linkmodel::ContactPlan(plan.satellite_names(), plan.epoch(),
                                plan.duration_s() / time_scale,
                                plan.range_sample_step_s() / time_scale, plan.physics(),
                                plan.includes_faults(), std::move(links));
}

absl::StatusOr<OracleBound> OracleBound::Create(std::shared_ptr<const linkmodel::ContactPlan> truth,
                                                std::vector<int> rank_satellites,
                                                OracleBoundOptions options) {
  if (truth == nullptr) return absl::InvalidArgumentError("oracle bound: no true contact plan");
  if (!(options.time_scale > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle bound: time_scale ", options.time_scale, " must be > 0"));
  }
  for (size_t r = 0; r < rank_satellites.size(); ++r) {
    if (rank_satellites[r] < 0 || rank_satellites[r] >= truth->num_satellites()) {
      return absl::InvalidArgumentError(absl::StrCat("oracle bound: rank ", r, "'s satellite ",
                                                     rank_satellites[r], " is outside the plan's ",
                                                     truth->num_satellites(), " satellites"));
    }
  }
  if (options.time_scale != 1.0) {
    ASSIGN_OR_RETURN(linkmodel::ContactPlan wall, WallFramePlan(*truth, options.time_scale));
    truth = std::make_shared<const linkmodel::ContactPlan>(std::move(wall));
  }
  return OracleBound(std::move(truth), std::move(rank_satellites), options);
}

absl::StatusOr<double> OracleBound::WallSeconds(int64_t bytes, double orbit_start_s) const {
  const size_t elem = collectives::DataTypeSize(options_.planner.type);
  if (bytes < static_cast<int64_t>(elem)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle bound: ", bytes, " bytes is no element"));
  }
  const size_t count = static_cast<size_t>(bytes) / elem;
  ASSIGN_OR_RETURN(collectives::OracleResult oracle,
                   collectives::SimulateOracle(*plan_, sats_, orbit_start_s / options_.time_scale,
                                               count, options_.planner, options_.simulator));
  return oracle.completion_s;
}

absl::StatusOr<double> OracleBound::MeanWallSeconds(int64_t bytes,
                                                    absl::Span<const double> orbit_start_s) const {
  if (orbit_start_s.empty()) {
    return absl::InvalidArgumentError("oracle bound: no iteration start times to average");
  }
  double sum = 0;
  for (double t : orbit_start_s) {
    ASSIGN_OR_RETURN(double s, WallSeconds(bytes, t));
    sum += s;
  }
  return sum / static_cast<double>(orbit_start_s.size());
}

}  // namespace crosslink::bench
