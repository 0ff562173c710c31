// NetnsJob: what `crosslink-run --netns` adds to a local job. From the scenario the launcher
// serves it builds the true contact plan, the topology of namespaces and links the ranks' routes
// need (netns_topology.h) over the window it will play, the namespaces themselves
// (netns_network.h) and, once the coordinator runs, the driver that cuts and restores the links
// in orbit time (netns_driver.h). The launcher asks it for each rank's namespace (a file
// descriptor for setns in the forked child) and environment: CROSSLINK_LISTEN_HOST (the rank's
// namespace address), CROSSLINK_NETNS=1 (the rank emulates latency only) and
// CROSSLINK_TRANSPORT=tcp (shared memory would bypass the links) and, unless the user set it,
// CROSSLINK_DEAD_LINK_TIMEOUT_S=5 (a connection over a link that is down with no route around it
// fails within seconds and resumes once the link is back).
//
// The orbit window starts at CROSSLINK_ORBIT_START_S (default 0) and spans
// CROSSLINK_NETNS_WINDOW_S orbit seconds (default 1800, or the plan's end); the time scale is
// CROSSLINK_TIME_SCALE or the scenario's, as the ranks take them.
//
// The destructor stops the driver and deletes every namespace and link (also after Ctrl-C or a
// rank's death: the launcher returns through it). Not thread-safe.
#ifndef CROSSLINK_RUNTIME_SRC_NETNS_JOB_H_
#define CROSSLINK_RUNTIME_SRC_NETNS_JOB_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/runtime/launch_env.h"
#include "netns_driver.h"
#include "netns_network.h"
#include "netns_topology.h"

namespace crosslink::runtime {

class NetnsJob {
 public:
  // kInvalidArgument without a scenario (or an "ideal" one), for a bad scenario or environment
  // value, or fewer satellites than ranks; kPermissionDenied without root; errors of
  // NetnsNetwork::Create.
  static absl::StatusOr<std::unique_ptr<NetnsJob>> Prepare(int num_ranks,
                                                           const std::string& scenario_text,
                                                           const std::string& scenario_path,
                                                           const EnvMap& env);
  ~NetnsJob();

  // Where the coordinator must listen for the ranks to reach it.
  std::string ControlAddress() const { return network_->ControlAddress(); }
  // Variables rank r gets on top of the launcher's.
  std::vector<std::string> RankEnv(int rank) const;
  // An O_CLOEXEC descriptor of rank r's namespace, for setns(fd, CLONE_NEWNET) in its child.
  int NamespaceFd(int rank) const { return fds_[rank]; }

  // Starts the driver once the coordinator serves at `coordinator_address`.
  absl::Status StartDriver(const std::string& coordinator_address, const std::string& token);

 private:
  NetnsJob() = default;

  double orbit_start_s_ = 0;
  double time_scale_ = 1;
  bool user_dead_link_timeout_ = false;  // CROSSLINK_DEAD_LINK_TIMEOUT_S set by the user
  NetnsTopology topology_;
  std::unique_ptr<NetnsNetwork> network_;
  std::vector<int> fds_;
  std::unique_ptr<NetnsDriver> driver_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_NETNS_JOB_H_
