// Internal to the simulator (simulator.h): one directed channel between two ranks' satellites and
// the time a message of some size takes over it, holding while the link is down.
#ifndef CROSSLINK_COLLECTIVES_SRC_SIMULATOR_CHANNEL_H_
#define CROSSLINK_COLLECTIVES_SRC_SIMULATOR_CHANNEL_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/collectives/simulator.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives::internal {

// Sorted instants at which any link of the plan changes state (segment starts after t = 0): a
// relayed channel without a path can only find one again at such an instant.
std::vector<double> StateChangeTimes(const linkmodel::ContactPlan& plan);

struct Delivery {
  double done_s = 0;     // serialisation finished
  double arrival_s = 0;  // last bit at the receiver
};

class SimChannel {
 public:
  SimChannel(const linkmodel::ContactPlan* plan, const std::vector<double>* changes, int from_rank,
             int to_rank, int from_sat, int to_sat);

  // Sends `bytes` ready at ready_s, after every earlier message of this channel (FIFO).
  // kDeadlineExceeded when the message is still held at deadline_s. Calls must come in
  // non-decreasing ready_s order (one sender, program order), which keeps the cursors valid.
  absl::StatusOr<Delivery> Send(double ready_s, size_t bytes, double deadline_s);

  const ChannelStats& stats() const { return stats_; }

  // Arrivals not yet received, matched in order (plan.h's matching rule).
  struct Message {
    double arrival_s;
    size_t count;
  };
  std::vector<Message> arrivals;
  size_t next_recv = 0;
  int waiter = -1;  // the receiving rank when it is blocked on this channel

 private:
  absl::StatusOr<Delivery> SendDirect(double t, double bits, double deadline_s);
  absl::StatusOr<Delivery> SendRouted(double t, double bits, double deadline_s);
  absl::Status Held(double from_s, double until_s, double deadline_s, const char* state);

  const linkmodel::ContactPlan* plan_;
  const std::vector<double>* changes_;
  int link_ = -1;  // direct candidate link, or -1 for a relayed channel
  size_t cursor_ = 0;
  double free_at_s_ = -std::numeric_limits<double>::infinity();
  double last_hold_until_s_ = -1;
  // Relayed channels: the current route and how long it holds.
  bool route_valid_ = false;
  double route_from_s_ = 0;
  double route_until_s_ = 0;
  double route_latency_s_ = 0;
  double route_rate_bps_ = 0;
  ChannelStats stats_;
};

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_SIMULATOR_CHANNEL_H_
