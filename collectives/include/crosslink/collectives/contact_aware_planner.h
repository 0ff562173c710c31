// The contact-aware allreduce planner: it reads the PREDICTED contact plan at the orbit time a
// collective starts and chooses the order of the ranks around the ring (and the shape of the
// binomial tree) so that the links the collective crosses stay up for as long as it is expected
// to run, preferring satellites that are physically adjacent (one direct crosslink) over
// multi-hop relay paths. It then builds the ordinary ring or tree plan on relabelled ranks
// (PermutePlanRanks), so the executor and the simulator run it like any other plan: a plan says
// which peer every step talks to, and nothing in it assumes that peers are rank r±1.
//
// Search: for n <= kExactSearchMaxRanks every ring order (rank 0 first, both directions) and every
// tree labelling is scored, with pruning on the partial score; above that a greedy
// nearest-up-neighbour ring (single-source Dijkstra over the links up now, links that drop during
// the collective penalised) is improved by 2-opt over each rank's nearest candidates.
//
// Score of a candidate (seconds): the α-β cost model of cost_model.h with the slowest link's
// latency and the narrowest link's rate, plus, for every link the collective uses, the predicted
// stall: the time until it comes up when it is down now, or the length of the outage that starts
// before the collective would end. Ties go to fewer relay hops, then to less summed latency.
//
// Thread-safety: pure functions of their arguments. Blocking: CPU only (milliseconds for n <= 8,
// well under a second for 1,024 ranks on a 1,584-satellite shell).
#ifndef CROSSLINK_COLLECTIVES_CONTACT_AWARE_PLANNER_H_
#define CROSSLINK_COLLECTIVES_CONTACT_AWARE_PLANNER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives {

// Exhaustive search up to this many ranks: (n-1)!/2 rings and n! tree labellings are 2,520 and
// 40,320 candidates at n = 8, a few milliseconds; n = 9 would multiply the tree search by 9.
inline constexpr int kExactSearchMaxRanks = 8;

struct ContactAwareOptions {
  // Which shape to plan: kAuto picks the ring or the tree by the lower score.
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  size_t max_segment_bytes = kDefaultMaxSegmentBytes;
  // Candidate ranks per rank for the greedy ring and 2-opt above kExactSearchMaxRanks: in a
  // plus grid a satellite has four neighbours, so eight covers them and the next ring of relays.
  int neighbour_candidates = 8;
  // Upper bound on 2-opt improvement passes (each pass is O(n * neighbour_candidates)).
  int two_opt_passes = 8;
};

// What the planner believes about the link between two ranks at the planning time.
struct PairEstimate {
  // A direct link that is up now or later in the window, or a relay path that is up now.
  bool reachable = false;
  bool direct = false;  // the two satellites share a candidate crosslink
  int hops = 0;         // crosslinks on the path (1 when direct)
  double latency_s = 0;
  double rate_bps = 0;
  double wait_s = 0;          // until the link (direct) comes up; 0 when up now
  double remaining_up_s = 0;  // from when it is up
  // Predicted down time after that up window ends (0 when a relay path has a detour at once, or
  // the window ends first).
  double outage_after_s = 0;
};

struct ContactAwareChoice {
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kRing;  // never kAuto
  // order[v] is the real rank at ring position (or binomial-tree label) v; order[0] is the tree's
  // root. The plan is the standard planner's plan for virtual rank v run by rank order[v].
  std::vector<int> ring_order;
  std::vector<int> tree_order;
  double ring_estimate_s = 0;
  double tree_estimate_s = 0;
  double estimate_s = 0;    // of the chosen algorithm
  int relay_links = 0;      // links of the chosen shape that are multi-hop
  Plan plan;                // every rank's steps, algorithm "contact_aware_ring" / "..._tree"
  std::string explanation;  // human-readable: candidates, chosen order, links and their windows
};

// Plans an allreduce of `count` elements over ranks on `rank_satellites` (rank r on satellite
// rank_satellites[r]) starting at orbit time t_s, using `predicted` only. kInvalidArgument for an
// empty rank list, a satellite index outside the plan, two ranks on one satellite, an invalid
// algorithm, or a bad request (PlanCollective's codes, algorithms.h). A pair that cannot reach
// each other is no error: it is scored as stalling for the rest of the window, so the search
// avoids it where it can, and the plan is returned even when it cannot.
absl::StatusOr<ContactAwareChoice> PlanContactAwareAllreduce(
    const linkmodel::ContactPlan& predicted, const std::vector<int>& rank_satellites, double t_s,
    size_t count, const ContactAwareOptions& options);

// The planner's view of one pair of satellites at t_s (direct link, else ContactPlan's
// least-latency path; a relay path is taken as lasting while its hops all stay up).
PairEstimate EstimatePair(const linkmodel::ContactPlan& plan, int sat_a, int sat_b, double t_s);

// Relabels a plan made for virtual ranks 0..n-1: virtual rank v becomes real rank order[v], in
// both the step lists and the peers, so the ring over `order` is the standard ring on relabelled
// ranks. kInvalidArgument unless order is a permutation of 0..plan.world_size-1.
absl::StatusOr<Plan> PermutePlanRanks(const Plan& plan, const std::vector<int>& order);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_CONTACT_AWARE_PLANNER_H_
