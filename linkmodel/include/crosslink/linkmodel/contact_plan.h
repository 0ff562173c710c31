// ContactPlan: for every candidate crosslink of a constellation, when it is up over the scenario
// window, why it is down otherwise, and its one-way light time and data rate at any instant.
// Built by BuildContactPlan (contact_plan_builder.h); read by planners, the link emulator and the
// exporters. Immutable once built, so every const method is safe from any thread.
#ifndef CROSSLINK_LINKMODEL_CONTACT_PLAN_H_
#define CROSSLINK_LINKMODEL_CONTACT_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/scenario.h"

namespace crosslink::linkmodel {

// The state of a link over a segment of time. When several causes hold at once, the first in this
// order is recorded: geometry before terminals before faults.
enum class LinkState : uint8_t {
  kUp = 0,
  kOccluded,   // the line of sight dips below the grazing altitude
  kRange,      // farther apart than max_range_km
  kPolar,      // cross-plane link with an end above the polar cut-off latitude
  kSun,        // the Sun within sun_exclusion_deg of a terminal's line of sight
  kAcquiring,  // geometry is fine again; the terminals are re-acquiring each other
  kFault,      // surprise: random link fault or satellite reset (absent from the predicted plan)
};
inline constexpr int kNumLinkStates = 7;
std::string_view LinkStateName(LinkState state);

// [start_s, end_s) in seconds since the scenario epoch.
struct Segment {
  double start_s = 0;
  double end_s = 0;
  LinkState state = LinkState::kUp;
};

struct Link {
  int a = 0;  // satellite indices, a < b
  int b = 0;
  bool cross_plane = false;
  // Consecutive segments covering [0, duration_s) exactly, adjacent ones in different states.
  std::vector<Segment> segments;
  // Range between the ends sampled every ContactPlan::range_sample_step_s() from t=0 to the end
  // of the window inclusive, for latency and rate between samples (linear interpolation).
  std::vector<float> range_km;
};

// One up-interval of one link with the extremes of its latency and rate.
struct Contact {
  int link = 0;
  double start_s = 0;
  double end_s = 0;
  double owlt_min_s = 0;
  double owlt_max_s = 0;
  double rate_min_bps = 0;  // bits/s
  double rate_max_bps = 0;
};

// A route between two satellites at one instant: latency summed over hops, rate of the narrowest.
struct Path {
  std::vector<int> satellites;  // from ... to, inclusive
  double latency_s = 0;
  double rate_bps = 0;  // bits/s; infinite for a one-satellite path
  // How long every hop stays up from the query time (the minimum over hops).
  double remaining_up_s = 0;
};

class ContactPlan {
 public:
  ContactPlan() = default;
  ContactPlan(std::vector<std::string> satellite_names, absl::Time epoch, double duration_s,
              double range_sample_step_s, LinkPhysics physics, bool includes_faults,
              std::vector<Link> links);

  int num_satellites() const { return static_cast<int>(satellite_names_.size()); }
  const std::vector<std::string>& satellite_names() const { return satellite_names_; }
  absl::Time epoch() const { return epoch_; }
  double duration_s() const { return duration_s_; }
  double range_sample_step_s() const { return range_sample_step_s_; }
  const LinkPhysics& physics() const { return physics_; }
  // True for the true plan (geometry and faults), false for the predicted one (geometry only).
  bool includes_faults() const { return includes_faults_; }
  const std::vector<Link>& links() const { return links_; }

  // Index into links() of the candidate link between satellites a and b (either order).
  std::optional<int> FindLink(int a, int b) const;

  // Point queries. A pair that is no candidate link is never up (StateAt reports kRange for it).
  // Times outside [0, duration_s) are clamped to the window's ends.
  LinkState StateAt(int a, int b, double t_s) const;
  bool Up(int a, int b, double t_s) const { return StateAt(a, b, t_s) == LinkState::kUp; }
  // Earliest t' >= t_s at which the link is up; nullopt when it stays down to the window's end.
  std::optional<double> NextUp(int a, int b, double t_s) const;
  // Seconds the link stays up from t_s (0 when down at t_s).
  double RemainingUp(int a, int b, double t_s) const;
  // One-way light time (seconds) and data rate (bits/s) at t_s, from the range whether the link
  // is up or not. kNotFound when the pair is no candidate link.
  absl::StatusOr<double> LatencyAt(int a, int b, double t_s) const;
  absl::StatusOr<double> RateAt(int a, int b, double t_s) const;
  // km, interpolated. `link` indexes links() and is not checked.
  double RangeAt(int link, double t_s) const;

  // Least-latency path over the links up at t_s (Dijkstra; equal latencies: fewest hops). nullopt
  // when none exists or an index is out of range; from == to gives the one-satellite path.
  std::optional<Path> ShortestPath(int from, int to, double t_s) const;

  // Every up-interval of every link, ordered by link then time.
  std::vector<Contact> Contacts() const;

 private:
  std::vector<std::string> satellite_names_;
  absl::Time epoch_;
  double duration_s_ = 0;
  double range_sample_step_s_ = 1;
  LinkPhysics physics_;
  bool includes_faults_ = false;
  std::vector<Link> links_;
  absl::flat_hash_map<uint64_t, int> link_index_;            // (a << 32 | b) -> link
  std::vector<std::vector<std::pair<int, int>>> adjacency_;  // sat -> (neighbour, link)
};

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_CONTACT_PLAN_H_
