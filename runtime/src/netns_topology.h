// NetnsTopology: which satellites and crosslinks `crosslink-run --netns` builds as network
// namespaces and veth links, and how the namespaces route between each other at an orbit time.
// Pure computation over a contact plan (no system calls), so it is tested without root.
//
// Nodes are the ranks' satellites (node r is rank r) and the relay satellites that the true
// plan's least-latency routes between ranks pass through at any sampled instant of the played
// window; links are every candidate crosslink of the plan between two nodes. Routes are
// least-latency over the links up at a time, per destination rank (a shortest-path tree rooted
// at it), so every namespace's next hop toward a destination agrees with its neighbours' and
// forwarding never loops.
#ifndef CROSSLINK_RUNTIME_SRC_NETNS_TOPOLOGY_H_
#define CROSSLINK_RUNTIME_SRC_NETNS_TOPOLOGY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::runtime {

struct NetnsLink {
  int node_a = 0;  // node indices, node_a < node_b
  int node_b = 0;
  int plan_link = 0;  // index into ContactPlan::links()
};

struct NetnsTopology {
  std::shared_ptr<const linkmodel::ContactPlan> plan;
  int num_ranks = 0;
  std::vector<int> node_satellites;  // node i's satellite; the first num_ranks are the ranks'
  std::vector<NetnsLink> links;
  // Each node's links: (neighbour node, index into links).
  std::vector<std::vector<std::pair<int, int>>> adjacency;

  // "P0S3" (the satellite's name).
  std::string NodeName(int node) const;
};

// Builds the topology for ranks on `rank_satellites` over the orbit window [start_s, end_s]
// (clamped to the plan), sampling routes every `sample_step_s` orbit seconds and at every state
// change of a link between two ranks. kInvalidArgument for a satellite out of range, a satellite
// hosting two ranks or an empty window; kResourceExhausted when more than `max_nodes` nodes
// would be needed (the message names the count).
absl::StatusOr<NetnsTopology> BuildNetnsTopology(std::shared_ptr<const linkmodel::ContactPlan> plan,
                                                 const std::vector<int>& rank_satellites,
                                                 double start_s, double end_s, double sample_step_s,
                                                 int max_nodes);

// Next hops at orbit time t_s: next_hop[node][rank] is the neighbour node that `node` forwards
// packets for rank `rank` to (the rank itself when directly linked), or -1 when the rank is
// unreachable from `node` (or node == rank). Only links up in the plan at t_s are used.
std::vector<std::vector<int>> NetnsRoutesAt(const NetnsTopology& topology, double t_s);

// The nodes a packet from `from` to rank `to_rank` passes under `next_hop` (NetnsRoutesAt), by
// name: "P1S3 - P2S3 - P1S2", or "unreachable". For the driver's log of a reroute.
std::string NetnsRouteDescription(const NetnsTopology& topology,
                                  const std::vector<std::vector<int>>& next_hop, int from,
                                  int to_rank);

// The orbit times in (from_s, to_s] at which any topology link changes between up and down,
// sorted, for the driver's schedule.
std::vector<double> NetnsStateChanges(const NetnsTopology& topology, double from_s, double to_s);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_NETNS_TOPOLOGY_H_
