// NetnsDriver: plays a scenario's true contact plan on the kernel links of a NetnsNetwork in real
// (scaled) time. It reads the job's scenario clock (the wall instant of orbit time 0 that rank 0
// publishes in the coordinator's key-value store, communicator.cc) and at every orbit instant
// where a topology link changes state it sets that link down or up (with its rate, tc tbf) and
// recomputes every namespace's routes over the links up (least latency), so that traffic takes a
// detour through other namespaces while a link is down and returns when it is back. Until the
// clock is published the links stay as at the job's starting orbit time, which Start applies.
//
// Each change is logged on stderr with the orbit time it was applied at, the link's new state
// (up, or the cause of the outage: polar, fault, acquiring...) and, for a link between two ranks,
// the route the kernel takes between them from then on:
//   [crosslink-run --netns] orbit 248.90 s: P0S3 - P1S3 polar
//   [crosslink-run --netns] orbit 248.90 s: rank 3 -> rank 4 over P0S3 - P0S4 - P1S4 - P1S3
// A failing ip/tc command is logged and the schedule goes on (the next change retries the routes).
// Thread: Start runs one thread; the destructor stops it within about 100 ms.
#ifndef CROSSLINK_RUNTIME_SRC_NETNS_DRIVER_H_
#define CROSSLINK_RUNTIME_SRC_NETNS_DRIVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "netns_network.h"
#include "netns_topology.h"

namespace crosslink::runtime {

struct NetnsDriverOptions {
  double orbit_start_s = 0;
  double time_scale = 1;
  // Where to read the scenario clock from, with the job's token.
  std::string coordinator_address;
  std::string job_token;
};

class NetnsDriver {
 public:
  // Applies the links and routes of orbit_start_s (synchronously, so the ranks' mesh connects
  // over them), then starts the schedule thread. Errors: those of NetnsNetwork.
  static absl::StatusOr<std::unique_ptr<NetnsDriver>> Start(NetnsNetwork& network,
                                                            const NetnsTopology& topology,
                                                            NetnsDriverOptions options);
  ~NetnsDriver();

  // Applies the state of orbit time t_s: links whose state differs from the last applied, rates,
  // routes. Public for the thread and for tests.
  absl::Status ApplyAt(double t_s);

 private:
  NetnsDriver(NetnsNetwork& network, const NetnsTopology& topology, NetnsDriverOptions options);
  void Run();
  // Sleeps until `until` or Stop; false when stopped.
  bool SleepUntil(absl::Time until);

  NetnsNetwork& network_;
  const NetnsTopology& topology_;
  const NetnsDriverOptions options_;
  std::vector<int> applied_;  // per link: -1 unknown, 0 down, 1 up
  std::vector<double> applied_rate_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_NETNS_DRIVER_H_
