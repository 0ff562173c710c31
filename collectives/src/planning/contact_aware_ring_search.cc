// Greedy nearest-up-neighbour ring + 2-opt for rank counts above the exact search's limit
// (contact_aware_planner.h). Distances are least-latency paths over the links up at the planning
// time, found by single-source Dijkstra that stops after the nearest few ranks, so the work stays
// local to each satellite's neighbourhood instead of all pairs of a 1,584-satellite shell.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "contact_aware_internal.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/linkmodel/link_geometry.h"

namespace crosslink::collectives::internal {
namespace {

// Added to a link that the prediction says drops before the collective ends: larger than any
// path latency in low Earth orbit (tens of ms), so a path avoids such a link whenever a detour
// exists, yet finite, so it is still used when nothing else connects two ranks.
constexpr double kDropPenaltyS = 1.0;
// Distance of two ranks with no path over the links up now: worse than any path.
constexpr double kUnreachableS = 1e3;

class RankGraph {
 public:
  RankGraph(const linkmodel::ContactPlan& plan, const std::vector<int>& sats, double t_s,
            double duration_s)
      : sats_(sats),
        adjacency_(plan.num_satellites()),
        rank_of_(plan.num_satellites(), -1),
        dist_(plan.num_satellites(), std::numeric_limits<double>::infinity()) {
    for (size_t r = 0; r < sats.size(); ++r) rank_of_[sats[r]] = static_cast<int>(r);
    const std::vector<linkmodel::Link>& links = plan.links();
    for (size_t li = 0; li < links.size(); ++li) {
      const linkmodel::Link& l = links[li];
      if (!plan.Up(l.a, l.b, t_s)) continue;
      double w = linkmodel::LightTimeS(plan.RangeAt(static_cast<int>(li), t_s));
      if (plan.RemainingUp(l.a, l.b, t_s) < duration_s) w += kDropPenaltyS;
      adjacency_[l.a].push_back({l.b, w});
      adjacency_[l.b].push_back({l.a, w});
    }
  }

  // Up to k ranks (other than `from`) accepted by `want`, nearest first, with their distances.
  std::vector<std::pair<int, double>> Nearest(int from, int k,
                                              const std::function<bool(int)>& want) {
    std::vector<std::pair<int, double>> found;
    using Item = std::pair<double, int>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    const int src = sats_[from];
    dist_[src] = 0;
    touched_.push_back(src);
    queue.push({0.0, src});
    while (!queue.empty() && static_cast<int>(found.size()) < k) {
      const auto [d, u] = queue.top();
      queue.pop();
      if (d != dist_[u]) continue;
      const int r = rank_of_[u];
      if (r >= 0 && r != from && want(r)) found.push_back({r, d});
      for (const auto& [v, w] : adjacency_[u]) {
        if (d + w < dist_[v]) {
          if (std::isinf(dist_[v])) touched_.push_back(v);
          dist_[v] = d + w;
          queue.push({dist_[v], v});
        }
      }
    }
    for (int v : touched_) dist_[v] = std::numeric_limits<double>::infinity();
    touched_.clear();
    return found;
  }

  // Distance between two ranks, cached (symmetric).
  double Distance(int a, int b) {
    const uint64_t key = static_cast<uint64_t>(std::min(a, b)) << 32 | std::max(a, b);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::vector<std::pair<int, double>> hit = Nearest(a, 1, [b](int r) { return r == b; });
    const double d = hit.empty() ? kUnreachableS : hit[0].second;
    cache_[key] = d;
    return d;
  }

  void Remember(int a, int b, double d) {
    cache_[static_cast<uint64_t>(std::min(a, b)) << 32 | std::max(a, b)] = d;
  }

 private:
  const std::vector<int>& sats_;
  std::vector<std::vector<std::pair<int, double>>> adjacency_;  // sat -> (sat, weight)
  std::vector<int> rank_of_;
  std::vector<double> dist_;
  std::vector<int> touched_;
  absl::flat_hash_map<uint64_t, double> cache_;
};

}  // namespace

RingSearchResult GreedyTwoOptRing(const linkmodel::ContactPlan& plan,
                                  const std::vector<int>& rank_satellites, double t_s, size_t bytes,
                                  const ContactAwareOptions& options) {
  const int n = static_cast<int>(rank_satellites.size());
  // Expected duration for the "stays up" test: the ring at the physics' rate and the mean
  // latency of the links up now (the order is not known yet; this only marks risky links).
  double latency_sum = 0;
  int up_links = 0;
  for (size_t li = 0; li < plan.links().size(); ++li) {
    const linkmodel::Link& l = plan.links()[li];
    if (!plan.Up(l.a, l.b, t_s)) continue;
    latency_sum += linkmodel::LightTimeS(plan.RangeAt(static_cast<int>(li), t_s));
    ++up_links;
  }
  const LinkCostHints hints{up_links > 0 ? latency_sum / up_links : 0.0, plan.physics().rate_bps};
  const double duration_s = RingAllreduceTimeS(n, bytes, hints);
  RankGraph graph(plan, rank_satellites, t_s, duration_s);

  const int k = std::max(1, options.neighbour_candidates);
  std::vector<std::vector<std::pair<int, double>>> candidates(n);
  for (int r = 0; r < n; ++r) {
    candidates[r] = graph.Nearest(r, k, [](int) { return true; });
    for (const auto& [c, d] : candidates[r]) graph.Remember(r, c, d);
  }

  // Greedy: from rank 0, always on to the nearest rank not yet in the ring.
  std::vector<int> tour{0};
  std::vector<bool> visited(n, false);
  visited[0] = true;
  int fallbacks = 0;
  while (static_cast<int>(tour.size()) < n) {
    const int cur = tour.back();
    int next = -1;
    for (const auto& [c, d] : candidates[cur]) {
      if (!visited[c]) {
        next = c;
        break;
      }
    }
    if (next < 0) {
      ++fallbacks;
      std::vector<std::pair<int, double>> hit =
          graph.Nearest(cur, 1, [&visited](int r) { return !visited[r]; });
      if (!hit.empty()) {
        next = hit[0].first;
        graph.Remember(cur, next, hit[0].second);
      } else {
        next = static_cast<int>(std::find(visited.begin(), visited.end(), false) - visited.begin());
      }
    }
    visited[next] = true;
    tour.push_back(next);
  }

  // 2-opt with neighbour lists: replace edges (a,b),(c,d) by (a,c),(b,d) when shorter, trying
  // only c among a's nearest candidates that are closer to a than b is.
  auto total = [&] {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += graph.Distance(tour[i], tour[(i + 1) % n]);
    return sum;
  };
  const double greedy_length = total();
  std::vector<int> pos(n);
  for (int i = 0; i < n; ++i) pos[tour[i]] = i;
  int moves = 0, passes = 0;
  for (bool improved = n > 3; improved && passes < options.two_opt_passes; ++passes) {
    improved = false;
    for (int i = 0; i < n; ++i) {
      const int a = tour[i], b = tour[(i + 1) % n];
      const double ab = graph.Distance(a, b);
      for (const auto& [c, ac] : candidates[a]) {
        if (ac >= ab) break;
        const int j = pos[c];
        const int d = tour[(j + 1) % n];
        if (c == b || d == a) continue;
        const double delta = ac + graph.Distance(b, d) - ab - graph.Distance(c, d);
        if (delta >= -1e-12) continue;
        // Reverse the tour between the two removed edges (the stretch that does not wrap).
        const int lo = std::min(i, j) + 1, hi = std::max(i, j);
        std::reverse(tour.begin() + lo, tour.begin() + hi + 1);
        for (int p = lo; p <= hi; ++p) pos[tour[p]] = p;
        ++moves;
        improved = true;
        break;
      }
    }
  }
  const double final_length = total();
  std::rotate(tour.begin(), std::find(tour.begin(), tour.end(), 0), tour.end());

  RingSearchResult result;
  result.order = std::move(tour);
  result.note = absl::StrFormat(
      "greedy nearest-up-neighbour ring (%d candidates per rank, %d fallback searches), then "
      "2-opt: %d moves in %d passes, summed path cost %.3f s -> %.3f s (links dropping within "
      "%.3f s cost +%.0f s)",
      k, fallbacks, moves, passes, greedy_length, final_length, duration_s, kDropPenaltyS);
  return result;
}

}  // namespace crosslink::collectives::internal
