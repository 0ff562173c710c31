// NetnsNetwork: the kernel side of `crosslink-run --netns`. One Linux network namespace per node
// of a NetnsTopology (a rank's satellite, or a relay satellite that only forwards), one veth pair
// per topology link, and per rank a control veth to the launcher's namespace through which the
// rank reaches the coordinator (and nothing else). Addresses: node i is 10.77.0.(i+1)/32 on its
// loopback (the ranks listen there); the coordinator side of the control links is
// 10.78.J.1 and rank r's end 10.78.J.(r+2), J derived from the launcher's pid.
//
// The driver (netns_driver.h) changes links (SetLink: `ip link set up/down` on both ends and a
// tc tbf for the rate) and routes (ApplyRoutes: `ip route replace` in every namespace). Latency
// is not applied here: the kernel has no netem, so the ranks keep emulating it in-process.
//
// Names carry the launcher's pid ("xl<pid>-n<i>"), so that Destroy, the destructor and
// RemoveStale (namespaces of launchers that died without cleaning up) remove exactly this job's.
// Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): Create fails with kPermissionDenied otherwise.
// Not thread-safe: one driver thread calls SetLink/ApplyRoutes; Destroy after it stopped.
#ifndef CROSSLINK_RUNTIME_SRC_NETNS_NETWORK_H_
#define CROSSLINK_RUNTIME_SRC_NETNS_NETWORK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netns_topology.h"

namespace crosslink::runtime {

class NetnsNetwork {
 public:
  // Builds every namespace, link and control link, all links up and unshaped, no routes between
  // nodes yet. On failure removes what it made. kPermissionDenied without root, kInternal when
  // an `ip` command fails (the message has its output), kInvalidArgument over 250 nodes.
  static absl::StatusOr<std::unique_ptr<NetnsNetwork>> Create(const NetnsTopology& topology);
  ~NetnsNetwork();  // Destroy()

  // Brings topology link k up or down on both ends; up with rate_bps > 0 shapes both directions
  // to that rate (rates of 10 Gbit/s and more are left unshaped: a veth does not reach them).
  absl::Status SetLink(int k, bool up, double rate_bps);
  // Installs next_hop (NetnsRoutesAt) in every namespace; unreachable ranks get an unreachable
  // route, so a connect fails at once and a connection's retransmissions wait for a route.
  absl::Status ApplyRoutes(const std::vector<std::vector<int>>& next_hop);

  // kPermissionDenied, saying what to do, unless this process runs as root.
  static absl::Status CheckRoot();

  // Deletes every namespace of this job (their veths go with them). Idempotent.
  void Destroy();

  // Deletes namespaces named xl<pid>-* of launchers no longer running. Best effort.
  static void RemoveStale();

  int num_nodes() const { return static_cast<int>(names_.size()); }
  // /run/netns/<name> of node `node` (ranks are nodes 0..num_ranks-1), for setns.
  std::string NamespacePath(int node) const;
  std::string NodeAddress(int node) const;  // "10.77.0.(node+1)"
  std::string ControlAddress() const;       // the coordinator's side, in the launcher's namespace

 private:
  explicit NetnsNetwork(const NetnsTopology& topology);
  absl::Status Build();

  const NetnsTopology& topology_;
  std::string prefix_;  // "xl<pid>"
  int control_net_ = 0;
  std::vector<std::string> names_;
  int control_links_ = 0;  // control veths made so far (Destroy deletes them)
  bool destroyed_ = false;
};

// Runs `command` through /bin/sh with stdin from /dev/null; kInternal with its output when it
// exits non-zero. The launcher's own helper for ip, tc and sysctl (arguments are generated, never
// from the user).
absl::Status RunNetCommand(const std::string& command);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_NETNS_NETWORK_H_
