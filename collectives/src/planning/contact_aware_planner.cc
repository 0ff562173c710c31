// Contact-aware allreduce planner (contact_aware_planner.h): pair estimates from the predicted
// contact plan, the candidate score, the exact search for small rank counts, and the plan built
// on relabelled ranks. The greedy + 2-opt ring for large rank counts lives in
// contact_aware_ring_search.cc.
#include "crosslink/collectives/contact_aware_planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "contact_aware_internal.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives {
namespace internal {

// The outage a relay path meets when a hop drops is usually short: the next-best route exists at
// once. Probe just after the break (10 ms, the contact plan's time resolution).
constexpr double kRelayProbeS = 0.01;

double PredictedStallS(const PairEstimate& e, double duration_s, double window_left_s) {
  if (!e.reachable) return window_left_s;
  double stall = e.wait_s;
  if (e.remaining_up_s < duration_s + e.wait_s) stall += e.outage_after_s;
  return std::min(stall, window_left_s);
}

bool ScoreLess(const Score& a, const Score& b) {
  // Estimates within a nanosecond are the same estimate: fall through to the tie-breaks.
  constexpr double kTieS = 1e-9;
  if (a.time_s < b.time_s - kTieS) return true;
  if (b.time_s < a.time_s - kTieS) return false;
  if (a.hops != b.hops) return a.hops < b.hops;
  return a.sum_latency_s < b.sum_latency_s;
}

Score ScoreEdges(const std::vector<const PairEstimate*>& edges, bool tree, int world_size,
                 size_t bytes, double window_left_s) {
  Score score;
  LinkCostHints hints{0.0, std::numeric_limits<double>::infinity()};
  for (const PairEstimate* e : edges) {
    hints.latency_s = std::max(hints.latency_s, e->latency_s);
    hints.rate_bps = std::min(hints.rate_bps, e->rate_bps);
    score.hops += e->hops;
    score.sum_latency_s += e->latency_s;
  }
  if (edges.empty()) return score;
  const double model_s = tree ? TreeAllreduceTimeS(world_size, bytes, hints)
                              : RingAllreduceTimeS(world_size, bytes, hints);
  double stall_s = 0;
  for (const PairEstimate* e : edges) stall_s += PredictedStallS(*e, model_s, window_left_s);
  score.model_s = model_s;
  score.stall_s = stall_s;
  score.time_s = model_s + stall_s;
  return score;
}

}  // namespace internal

namespace {

using internal::Score;
using internal::ScoreLess;

// Binomial parent of virtual rank v (root 0): v without its lowest set bit.
int BinomialParent(int v) { return v & (v - 1); }

// Pair estimates for every pair of ranks (small n): table[i * n + j], symmetric.
std::vector<PairEstimate> PairTable(const linkmodel::ContactPlan& plan,
                                    const std::vector<int>& sats, double t_s) {
  const int n = static_cast<int>(sats.size());
  std::vector<PairEstimate> table(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      table[i * n + j] = EstimatePair(plan, sats[i], sats[j], t_s);
      table[j * n + i] = table[i * n + j];
    }
  }
  return table;
}

struct ExactSearch {
  const std::vector<PairEstimate>* table = nullptr;
  int n = 0;
  size_t bytes = 0;
  double window_left_s = 0;
  bool tree = false;
  std::vector<int> order;
  std::vector<bool> used;
  std::vector<const PairEstimate*> edges;
  Score best{std::numeric_limits<double>::infinity(), 0, 0, 0, 0};
  std::vector<int> best_order;
  long candidates = 0;
  long pruned = 0;

  const PairEstimate* Edge(int a, int b) const { return &(*table)[a * n + b]; }

  void Recurse(int depth) {
    if (depth == n) {
      if (!tree) {
        // Each ring appears in both directions; keep the one with order[1] < order[n-1].
        if (n > 2 && order[1] > order[n - 1]) return;
        edges.push_back(Edge(order[n - 1], order[0]));
      }
      ++candidates;
      const Score s = internal::ScoreEdges(edges, tree, n, bytes, window_left_s);
      if (!tree) edges.pop_back();
      if (ScoreLess(s, best)) {
        best = s;
        best_order = order;
      }
      return;
    }
    for (int r = 0; r < n; ++r) {
      if (used[r]) continue;
      const int prev = tree ? order[BinomialParent(depth)] : order[depth - 1];
      edges.push_back(Edge(prev, r));
      // Adding links only raises the slowest latency, lowers the narrowest rate and adds stalls,
      // so a partial score above the best complete one can only get worse.
      const Score partial = internal::ScoreEdges(edges, tree, n, bytes, window_left_s);
      if (partial.time_s > best.time_s + 1e-9) {
        ++pruned;
      } else {
        used[r] = true;
        order[depth] = r;
        Recurse(depth + 1);
        used[r] = false;
      }
      edges.pop_back();
    }
  }
};

// Exact search over rings (rank 0 first) or tree labellings (any rank at the root).
ExactSearch SearchExact(const std::vector<PairEstimate>& table, int n, size_t bytes,
                        double window_left_s, bool tree) {
  ExactSearch search;
  search.table = &table;
  search.n = n;
  search.bytes = bytes;
  search.window_left_s = window_left_s;
  search.tree = tree;
  search.order.assign(n, 0);
  search.used.assign(n, false);
  if (tree) {
    for (int root = 0; root < n; ++root) {
      search.order[0] = root;
      search.used[root] = true;
      search.Recurse(1);
      search.used[root] = false;
    }
  } else {
    search.order[0] = 0;
    search.used[0] = true;
    search.Recurse(1);
  }
  return search;
}

std::string SatName(const linkmodel::ContactPlan& plan, int sat) {
  return plan.satellite_names()[sat];
}

void DescribeEdges(const linkmodel::ContactPlan& plan, const std::vector<int>& sats,
                   const std::vector<std::pair<int, int>>& pairs,
                   const std::vector<PairEstimate>& estimates, std::string& out) {
  // Listing 1,024 links helps nobody: show the first ones and every risky or relayed one.
  constexpr size_t kListed = 16;
  size_t listed = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const PairEstimate& e = estimates[i];
    const bool notable = !e.direct || e.wait_s > 0 || !e.reachable;
    if (i >= kListed && !notable) continue;
    if (++listed > 4 * kListed) {
      absl::StrAppend(&out, "    ...\n");
      break;
    }
    absl::StrAppendFormat(
        &out, "    rank %d (%s) - rank %d (%s): %s, %d hop(s), %.3f ms, %.1f Gbit/s, %s\n",
        pairs[i].first, SatName(plan, sats[pairs[i].first]), pairs[i].second,
        SatName(plan, sats[pairs[i].second]), e.direct ? "direct" : "relay", e.hops,
        e.latency_s * 1e3, e.rate_bps / 1e9,
        !e.reachable ? std::string("unreachable")
        : e.wait_s > 0
            ? absl::StrFormat("down now, up in %.2f s for %.1f s", e.wait_s, e.remaining_up_s)
            : absl::StrFormat("up for %.1f s more", e.remaining_up_s));
  }
}

}  // namespace

PairEstimate EstimatePair(const linkmodel::ContactPlan& plan, int sat_a, int sat_b, double t_s) {
  PairEstimate e;
  const double end_s = plan.duration_s();
  if (plan.FindLink(sat_a, sat_b).has_value()) {
    std::optional<double> up = plan.NextUp(sat_a, sat_b, t_s);
    e.direct = true;
    e.hops = 1;
    if (!up.has_value()) return e;
    e.reachable = true;
    e.wait_s = std::max(0.0, *up - t_s);
    e.remaining_up_s = plan.RemainingUp(sat_a, sat_b, *up);
    e.latency_s = plan.LatencyAt(sat_a, sat_b, *up).value_or(0.0);
    e.rate_bps = plan.RateAt(sat_a, sat_b, *up).value_or(0.0);
    const double down_at = *up + e.remaining_up_s;
    if (down_at < end_s) {
      std::optional<double> back = plan.NextUp(sat_a, sat_b, down_at);
      e.outage_after_s = back.has_value() ? *back - down_at : end_s - down_at;
    }
    return e;
  }
  std::optional<linkmodel::Path> path = plan.ShortestPath(sat_a, sat_b, t_s);
  if (!path.has_value()) return e;
  e.reachable = true;
  e.hops = static_cast<int>(path->satellites.size()) - 1;
  e.latency_s = path->latency_s;
  e.rate_bps = path->rate_bps;
  e.remaining_up_s = path->remaining_up_s;
  const double break_s = t_s + e.remaining_up_s + internal::kRelayProbeS;
  if (break_s < end_s && !plan.ShortestPath(sat_a, sat_b, break_s).has_value()) {
    // No detour at the break: assume the path stays cut as long as it was up (a crude guess,
    // only used to rank candidates that all share the problem).
    e.outage_after_s = e.remaining_up_s;
  }
  return e;
}

absl::StatusOr<Plan> PermutePlanRanks(const Plan& plan, const std::vector<int>& order) {
  const int n = plan.world_size;
  if (static_cast<int>(order.size()) != n || static_cast<int>(plan.ranks.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrFormat("PermutePlanRanks: order has %d ranks, plan %s has world size %d and %d "
                        "step lists",
                        order.size(), plan.algorithm, n, plan.ranks.size()));
  }
  std::vector<bool> seen(n, false);
  for (int v = 0; v < n; ++v) {
    if (order[v] < 0 || order[v] >= n || seen[order[v]]) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "PermutePlanRanks: order[%d] = %d is out of range or repeated", v, order[v]));
    }
    seen[order[v]] = true;
  }
  Plan out = plan;
  for (int v = 0; v < n; ++v) {
    std::vector<Step>& steps = out.ranks[order[v]];
    steps = plan.ranks[v];
    for (Step& step : steps) {
      if (step.peer >= 0) step.peer = order[step.peer];
    }
  }
  out.root = order[plan.root];
  return out;
}

absl::StatusOr<ContactAwareChoice> PlanContactAwareAllreduce(
    const linkmodel::ContactPlan& predicted, const std::vector<int>& rank_satellites, double t_s,
    size_t count, const ContactAwareOptions& options) {
  const int n = static_cast<int>(rank_satellites.size());
  if (n == 0) return absl::InvalidArgumentError("contact-aware planner: no ranks");
  absl::flat_hash_set<int> distinct;
  for (int r = 0; r < n; ++r) {
    const int sat = rank_satellites[r];
    if (sat < 0 || sat >= predicted.num_satellites()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("contact-aware planner: rank %d on satellite %d, plan has %d", r, sat,
                          predicted.num_satellites()));
    }
    if (!distinct.insert(sat).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("contact-aware planner: rank %d shares satellite %s with another rank", r,
                          SatName(predicted, sat)));
    }
  }
  if (options.algorithm != AllreduceAlgorithm::kAuto &&
      options.algorithm != AllreduceAlgorithm::kRing &&
      options.algorithm != AllreduceAlgorithm::kTree) {
    return absl::InvalidArgumentError("contact-aware planner: invalid algorithm");
  }
  const size_t bytes = count * DataTypeSize(options.type);
  const double window_left_s = std::max(0.0, predicted.duration_s() - t_s);

  ContactAwareChoice choice;
  std::vector<std::pair<int, int>> ring_pairs, tree_pairs;
  std::vector<PairEstimate> ring_est, tree_est;
  std::string search_note;
  if (n <= kExactSearchMaxRanks) {
    const std::vector<PairEstimate> table = PairTable(predicted, rank_satellites, t_s);
    ExactSearch ring = SearchExact(table, n, bytes, window_left_s, /*tree=*/false);
    ExactSearch tree = SearchExact(table, n, bytes, window_left_s, /*tree=*/true);
    choice.ring_order = ring.best_order;
    choice.tree_order = tree.best_order;
    search_note = absl::StrFormat(
        "exact search: %d ring orders scored (%d branches pruned), %d tree labellings (%d pruned)",
        ring.candidates, ring.pruned, tree.candidates, tree.pruned);
  } else {
    internal::RingSearchResult ring =
        internal::GreedyTwoOptRing(predicted, rank_satellites, t_s, bytes, options);
    choice.ring_order = std::move(ring.order);
    // Binomial labels over the ring order: a parent's first child is its ring neighbour.
    choice.tree_order = choice.ring_order;
    search_note = ring.note;
  }
  if (n == 1) {
    choice.ring_order = choice.tree_order = {0};
  }
  auto pointers = [](const std::vector<PairEstimate>& v) {
    std::vector<const PairEstimate*> p;
    for (const PairEstimate& e : v) p.push_back(&e);
    return p;
  };
  // The links of a ring or tree over `order`, their estimates and the score.
  auto evaluate = [&](const std::vector<int>& order, bool tree,
                      std::vector<std::pair<int, int>>& pairs, std::vector<PairEstimate>& est) {
    pairs.clear();
    est.clear();
    for (int v = tree ? 1 : 0; v < n && n > 1; ++v) {
      if (!tree && n == 2 && v == 1) break;  // two ranks: one link, used both ways
      const int a = tree ? order[BinomialParent(v)] : order[v];
      const int b = tree ? order[v] : order[(v + 1) % n];
      pairs.push_back({a, b});
      est.push_back(EstimatePair(predicted, rank_satellites[a], rank_satellites[b], t_s));
    }
    return internal::ScoreEdges(pointers(est), tree, n, bytes, window_left_s);
  };
  Score ring_score = evaluate(choice.ring_order, false, ring_pairs, ring_est);
  Score tree_score = evaluate(choice.tree_order, true, tree_pairs, tree_est);
  if (n > kExactSearchMaxRanks) {
    // The greedy ring minimises summed latency, but a ring runs at its slowest link: keep the
    // rank order (the caller's placement) when it scores better, for the ring and the tree.
    std::vector<int> identity(n);
    std::iota(identity.begin(), identity.end(), 0);
    std::vector<std::pair<int, int>> pairs;
    std::vector<PairEstimate> est;
    for (bool tree : {false, true}) {
      const Score s = evaluate(identity, tree, pairs, est);
      Score& best = tree ? tree_score : ring_score;
      if (ScoreLess(s, best)) {
        best = s;
        (tree ? choice.tree_order : choice.ring_order) = identity;
        (tree ? tree_pairs : ring_pairs) = pairs;
        (tree ? tree_est : ring_est) = est;
        absl::StrAppendFormat(&search_note, "; rank order kept for the %s (scores better)",
                              tree ? "tree" : "ring");
      }
    }
  }
  choice.ring_estimate_s = ring_score.time_s;
  choice.tree_estimate_s = tree_score.time_s;
  const bool use_tree =
      options.algorithm == AllreduceAlgorithm::kTree ||
      (options.algorithm == AllreduceAlgorithm::kAuto && ScoreLess(tree_score, ring_score));
  choice.algorithm = use_tree ? AllreduceAlgorithm::kTree : AllreduceAlgorithm::kRing;
  choice.estimate_s = use_tree ? tree_score.time_s : ring_score.time_s;
  for (const PairEstimate& e : use_tree ? tree_est : ring_est) choice.relay_links += !e.direct;

  CollectiveSpec spec;
  spec.algorithm = choice.algorithm;
  spec.world_size = n;
  spec.count = count;
  spec.type = options.type;
  spec.op = options.op;
  spec.max_segment_bytes = options.max_segment_bytes;
  ASSIGN_OR_RETURN(Plan base, PlanCollective(spec));
  ASSIGN_OR_RETURN(choice.plan,
                   PermutePlanRanks(base, use_tree ? choice.tree_order : choice.ring_order));
  choice.plan.algorithm = use_tree ? "contact_aware_tree" : "contact_aware_ring";

  std::string& x = choice.explanation;
  absl::StrAppendFormat(&x,
                        "contact-aware allreduce: %d ranks, %d bytes, t=%.2f s (predicted plan)\n",
                        n, bytes, t_s);
  absl::StrAppendFormat(&x, "  %s\n", search_note);
  absl::StrAppendFormat(&x,
                        "  ring estimate %.6f s (cost model %.6f s + predicted stalls %.6f s, %d "
                        "hops): order %s\n",
                        ring_score.time_s, ring_score.model_s, ring_score.stall_s, ring_score.hops,
                        n <= 64 ? absl::StrJoin(choice.ring_order, " ") : "(see links)");
  DescribeEdges(predicted, rank_satellites, ring_pairs, ring_est, x);
  absl::StrAppendFormat(&x,
                        "  tree estimate %.6f s (cost model %.6f s + predicted stalls %.6f s, %d "
                        "hops): root rank %d, labels %s\n",
                        tree_score.time_s, tree_score.model_s, tree_score.stall_s, tree_score.hops,
                        choice.tree_order[0],
                        n <= 64 ? absl::StrJoin(choice.tree_order, " ") : "(see links)");
  DescribeEdges(predicted, rank_satellites, tree_pairs, tree_est, x);
  absl::StrAppendFormat(
      &x, "  chose %s (%s)\n", use_tree ? "tree" : "ring",
      options.algorithm == AllreduceAlgorithm::kAuto ? "lower estimate" : "requested");
  return choice;
}

}  // namespace crosslink::collectives
