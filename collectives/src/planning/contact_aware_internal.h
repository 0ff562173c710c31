// Internal to the contact-aware planner (not a public header): the candidate score shared by the
// exact search (contact_aware_planner.cc) and the greedy + 2-opt ring for many ranks
// (contact_aware_ring_search.cc).
#ifndef CROSSLINK_COLLECTIVES_SRC_CONTACT_AWARE_INTERNAL_H_
#define CROSSLINK_COLLECTIVES_SRC_CONTACT_AWARE_INTERNAL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives::internal {

// A candidate's score: estimated seconds (cost model + predicted stalls), then the tie-breaks.
struct Score {
  double time_s = 0;
  int hops = 0;
  double sum_latency_s = 0;
  double model_s = 0;
  double stall_s = 0;
};

// Lexicographic: time (within 1 ns), then fewer hops, then less summed latency.
bool ScoreLess(const Score& a, const Score& b);

// Seconds the collective is expected to wait on one link if it runs for duration_s: until the
// link comes up, plus the outage that starts before the collective ends; at most window_left_s.
double PredictedStallS(const PairEstimate& e, double duration_s, double window_left_s);

// Score of a ring (edges around it) or a binomial tree (parent-child edges).
Score ScoreEdges(const std::vector<const PairEstimate*>& edges, bool tree, int world_size,
                 size_t bytes, double window_left_s);

struct RingSearchResult {
  std::vector<int> order;  // ring order, rank 0 first
  std::string note;        // what the search did, for the explanation
};

// Greedy nearest-up-neighbour ring improved by 2-opt over each rank's nearest candidates.
RingSearchResult GreedyTwoOptRing(const linkmodel::ContactPlan& plan,
                                  const std::vector<int>& rank_satellites, double t_s, size_t bytes,
                                  const ContactAwareOptions& options);

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_CONTACT_AWARE_INTERNAL_H_
