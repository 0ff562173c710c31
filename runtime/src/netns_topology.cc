#include "netns_topology.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace crosslink::runtime {
namespace {

bool UpAt(const linkmodel::Link& link, double t_s) {
  const auto& segs = link.segments;
  auto it = std::upper_bound(segs.begin(), segs.end(), t_s,
                             [](double t, const linkmodel::Segment& s) { return t < s.start_s; });
  if (it == segs.begin()) return !segs.empty() && segs.front().state == linkmodel::LinkState::kUp;
  return std::prev(it)->state == linkmodel::LinkState::kUp;
}

}  // namespace

std::string NetnsTopology::NodeName(int node) const {
  return plan->satellite_names()[node_satellites[node]];
}

absl::StatusOr<NetnsTopology> BuildNetnsTopology(std::shared_ptr<const linkmodel::ContactPlan> plan,
                                                 const std::vector<int>& rank_satellites,
                                                 double start_s, double end_s, double sample_step_s,
                                                 int max_nodes) {
  const int sats = static_cast<int>(plan->satellite_names().size());
  std::set<int> seen;
  for (size_t r = 0; r < rank_satellites.size(); ++r) {
    const int s = rank_satellites[r];
    if (s < 0 || s >= sats) {
      return absl::InvalidArgumentError(absl::StrCat(
          "netns topology: rank ", r, " is on satellite ", s, ", outside 0..", sats - 1));
    }
    if (!seen.insert(s).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("netns topology: satellite ", plan->satellite_names()[s],
                       " hosts two ranks; --netns needs one namespace (satellite) per rank"));
    }
  }
  start_s = std::max(0.0, start_s);
  end_s = std::min(end_s, plan->duration_s());
  if (!(end_s >= start_s) || sample_step_s <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("netns topology: empty window [", start_s, ", ", end_s, "] of orbit seconds"));
  }
  NetnsTopology topology;
  topology.plan = plan;
  topology.num_ranks = static_cast<int>(rank_satellites.size());
  topology.node_satellites = rank_satellites;

  // Sample instants: a regular grid, plus just after every state change of a link between two
  // ranks (where the routes between them switch to or from a detour).
  std::set<double> samples;
  for (double t = start_s; t <= end_s; t += sample_step_s) samples.insert(t);
  samples.insert(end_s);
  for (size_t i = 0; i < rank_satellites.size(); ++i) {
    for (size_t j = i + 1; j < rank_satellites.size(); ++j) {
      const std::optional<int> link = plan->FindLink(rank_satellites[i], rank_satellites[j]);
      if (!link) continue;
      for (const linkmodel::Segment& s : plan->links()[*link].segments) {
        if (s.start_s > start_s && s.start_s <= end_s) samples.insert(s.start_s + 1e-3);
      }
    }
  }
  std::map<int, int> node_of;  // satellite -> node
  for (int r = 0; r < topology.num_ranks; ++r) node_of[rank_satellites[r]] = r;
  for (double t : samples) {
    for (size_t i = 0; i < rank_satellites.size(); ++i) {
      for (size_t j = i + 1; j < rank_satellites.size(); ++j) {
        std::optional<linkmodel::Path> path =
            plan->ShortestPath(rank_satellites[i], rank_satellites[j], t);
        if (!path) continue;
        for (int s : path->satellites) {
          if (node_of.count(s)) continue;
          if (static_cast<int>(node_of.size()) >= max_nodes) {
            return absl::ResourceExhaustedError(
                absl::StrCat("netns topology: the ranks' routes over orbit seconds [", start_s,
                             ", ", end_s, "] pass through more than ", max_nodes,
                             " satellites; play a shorter window or place the ranks closer"));
          }
          const int node = static_cast<int>(topology.node_satellites.size());
          node_of[s] = node;
          topology.node_satellites.push_back(s);
        }
      }
    }
  }
  const int nodes = static_cast<int>(topology.node_satellites.size());
  topology.adjacency.assign(nodes, {});
  for (int a = 0; a < nodes; ++a) {
    for (int b = a + 1; b < nodes; ++b) {
      const std::optional<int> link =
          plan->FindLink(topology.node_satellites[a], topology.node_satellites[b]);
      if (!link || plan->links()[*link].segments.empty()) continue;
      const int index = static_cast<int>(topology.links.size());
      topology.links.push_back({a, b, *link});
      topology.adjacency[a].push_back({b, index});
      topology.adjacency[b].push_back({a, index});
    }
  }
  return topology;
}

std::vector<std::vector<int>> NetnsRoutesAt(const NetnsTopology& topology, double t_s) {
  const int nodes = static_cast<int>(topology.node_satellites.size());
  const auto& plan = *topology.plan;
  // Each link's latency now, or infinity when down.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> cost(topology.links.size(), kInf);
  for (size_t k = 0; k < topology.links.size(); ++k) {
    const linkmodel::Link& link = plan.links()[topology.links[k].plan_link];
    if (!UpAt(link, t_s)) continue;
    absl::StatusOr<double> latency = plan.LatencyAt(link.a, link.b, t_s);
    // A hop costs at least a microsecond, so equal-latency routes prefer fewer hops.
    cost[k] = (latency.ok() ? *latency : 0.0) + 1e-6;
  }
  std::vector<std::vector<int>> next_hop(nodes, std::vector<int>(topology.num_ranks, -1));
  for (int dest = 0; dest < topology.num_ranks; ++dest) {
    // Dijkstra from the destination: a node's predecessor toward it is its next hop.
    std::vector<double> dist(nodes, kInf);
    using Item = std::pair<double, int>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    dist[dest] = 0;
    queue.push({0.0, dest});
    while (!queue.empty()) {
      auto [d, u] = queue.top();
      queue.pop();
      if (d > dist[u]) continue;
      for (auto [v, k] : topology.adjacency[u]) {
        if (cost[k] == kInf || d + cost[k] >= dist[v]) continue;
        dist[v] = d + cost[k];
        next_hop[v][dest] = u;
        queue.push({dist[v], v});
      }
    }
  }
  return next_hop;
}

std::string NetnsRouteDescription(const NetnsTopology& topology,
                                  const std::vector<std::vector<int>>& next_hop, int from,
                                  int to_rank) {
  std::string route = topology.NodeName(from);
  int node = from;
  // Routes are shortest-path trees, so a walk ends within the node count; the bound only guards
  // against a next_hop table that is not one.
  for (size_t hops = 0; node != to_rank && hops < next_hop.size(); ++hops) {
    node = next_hop[node][to_rank];
    if (node < 0) return "unreachable";
    absl::StrAppend(&route, " - ", topology.NodeName(node));
  }
  return node == to_rank ? route : "unreachable";
}

std::vector<double> NetnsStateChanges(const NetnsTopology& topology, double from_s, double to_s) {
  std::set<double> changes;
  for (const NetnsLink& l : topology.links) {
    const auto& segs = topology.plan->links()[l.plan_link].segments;
    for (size_t i = 1; i < segs.size(); ++i) {
      const bool was_up = segs[i - 1].state == linkmodel::LinkState::kUp;
      const bool is_up = segs[i].state == linkmodel::LinkState::kUp;
      if (was_up != is_up && segs[i].start_s > from_s && segs[i].start_s <= to_s) {
        changes.insert(segs[i].start_s);
      }
    }
  }
  return {changes.begin(), changes.end()};
}

}  // namespace crosslink::runtime
