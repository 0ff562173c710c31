// The virtual-time simulator: runs a Plan (plan.h) over a contact plan without sockets or
// threads, which is how Crosslink is studied at thousands of satellites, and the oracle that says
// how fast the collective could have been had the planner known the truth.
//
// Model. Each rank walks its plan in order, but times follow data dependencies as in the executor
// (executor.h: receives posted ahead, sends queued as soon as their data is final):
//   kSend       leaves once the range it carries is final (its last write done; an empty send
//               once every earlier receive is done) and goes on the channel to the peer; its
//               size is the plan's wire size (compression/wire_codec.h WireBytes when
//               Plan::compression is set, else count * element size).
//   kSendInput  (alltoall) as kSend, ready at the start: it carries the read-only input.
//   kRecv       lands when the matching message (the i-th from that peer) has arrived and the
//               range is free (earlier writes done, earlier sends of it serialised).
//   kRecvReduce as kRecv, then count * element size / reduce_rate_Bps of reduction; a rank
//               reduces one range at a time.
//   kCopy, kFinalize spend the same per byte (one pass over memory) on the same reducer.
// A rank is done when its last step is (sends: when serialised).
// A channel is the directed pair (sending rank, receiving rank) over the link between their
// satellites: the direct crosslink when the pair is a candidate link, else the least-latency relay
// path of ContactPlan::ShortestPath, kept while all its hops stay up and re-routed when one drops
// (its rate is the narrowest hop's, its latency the sum). Messages on a channel are serialised
// FIFO: a message of L bytes needs L*8 bits at the link's rate (sampled where each up stretch
// begins) of up time, then one-way latency. While the link is down (any state but kUp, so
// re-acquisition counts) the transfer is held and resumes where it stopped when the link is back;
// a relayed channel with no path waits for the next state change of any link. Channels do not
// share capacity with one another (each rank pair has its own terminals or relay slot), which is
// exact for direct links with one rank per satellite and optimistic for relays that share a hop.
//
// Cost: O(steps + messages * (state changes met)), one priority-queue operation per wake-up; no
// per-byte work. 1,024 ranks of a ring over a 1,584-satellite shell run in seconds.
//
// Status codes: kInvalidArgument for a plan that is not for every rank, a rank without a
// satellite, satellites outside the contact plan, a step naming an invalid peer, a receive whose
// size differs from its send, or bad options (reduce_rate_Bps <= 0, deadline_s < 0);
// kDeadlineExceeded naming the rank, the peer, the satellites and the link's state when a
// transfer is still held at start_s + deadline_s; kInternal when ranks wait for messages never
// sent (an inconsistent plan).
//
// Thread-safety: pure functions of their arguments (the contact plan is only read).
#ifndef CROSSLINK_COLLECTIVES_SIMULATOR_H_
#define CROSSLINK_COLLECTIVES_SIMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives {

struct SimulatorOptions {
  // Bytes per second a rank reduces (and copies, and finalizes). 20 GB/s is a host float32 sum
  // running at about the memory bandwidth of one socket; a GPU reduces an order of magnitude
  // faster, which makes the links matter even more.
  double reduce_rate_Bps = 20e9;
  // Orbit seconds after the start a transfer may still wait for its link, as a collective's
  // deadline: ten minutes lets the plan ride out a polar pass or a fault repair but not a link
  // that never comes back.
  double deadline_s = 600.0;
};

struct ChannelStats {
  int from_rank = 0;
  int to_rank = 0;
  int from_satellite = 0;
  int to_satellite = 0;
  bool direct = false;  // a single crosslink (else relayed)
  uint64_t messages = 0;
  uint64_t bytes = 0;
  double busy_s = 0;  // seconds spent serialising
  double held_s = 0;  // seconds messages waited for the link to come back
  int outages = 0;    // distinct outages this channel's messages met
};

struct SimulationResult {
  double start_s = 0;
  double end_s = 0;         // when the last rank finished its last step
  double completion_s = 0;  // end_s - start_s
  int outages_met = 0;      // summed over channels
  uint64_t bytes_sent = 0;
  uint64_t messages = 0;
  std::vector<double> rank_end_s;      // per rank
  std::vector<ChannelStats> channels;  // in order of first use
};

// Runs every rank's part of `plan` (built for all ranks) from orbit time start_s over `truth`.
absl::StatusOr<SimulationResult> SimulatePlan(const Plan& plan, const linkmodel::ContactPlan& truth,
                                              const std::vector<int>& rank_satellites,
                                              double start_s, const SimulatorOptions& options);

// The naive baseline: the plain ring in rank order (what NCCL or Gloo would run), which waits on
// every link it meets down, up to the deadline. It is PlanRingAllreduce for every rank.
absl::StatusOr<Plan> PlanNaiveRing(int world_size, size_t count,
                                   const ContactAwareOptions& options);

struct OracleCandidate {
  std::string name;     // "contact_aware_ring", "contact_aware_tree", "naive_ring"
  absl::Status status;  // OK, or why it did not finish (kDeadlineExceeded)
  double completion_s = 0;
};

struct OracleResult {
  double completion_s = 0;  // the best candidate's
  std::string best;         // its name
  std::vector<OracleCandidate> candidates;
};

// The oracle: the best completion time, simulated over `truth`, among the contact-aware ring and
// tree planned with the TRUE contact plan (faults included) and the naive ring. It bounds what a
// planner that sees only the prediction can reach with these shapes. kDeadlineExceeded when no
// candidate finishes; the planners' codes otherwise.
absl::StatusOr<OracleResult> SimulateOracle(const linkmodel::ContactPlan& truth,
                                            const std::vector<int>& rank_satellites, double start_s,
                                            size_t count,
                                            const ContactAwareOptions& planner_options,
                                            const SimulatorOptions& options);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_SIMULATOR_H_
