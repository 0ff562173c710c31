// CollectiveSpec: what one collective is, the one description that every layer passes down and
// that keys the plan cache. A training program never builds one: the entry points (collectives.h,
// the runtime's Communicator) make it from their arguments with MakeCollectiveSpec, the planning
// step resolves its choices (kAuto, contact-aware ordering, a partial result's participants:
// planning/plan_choice.h, planning/participant_policy.h), and the execution step runs the plan of
// the resolved spec (run_collective.h). Two ranks that hold equal resolved specs run matching
// plans; the executor checks that they do (executor.h, PlanSignature).
//
// Participants: a collective runs over a group of `world_size` ranks (a CollectiveContext). An
// empty `participants` means every rank of the group in rank order. Otherwise participants[i] is
// the group rank that runs plan rank i: a reordering (the contact-aware ring order) or a subset (a
// partial allreduce's contributors). The plan then has participants.size() ranks, so kAvg divides
// by the number of participants.
//
// Thread-safety: a plain value type.
#ifndef CROSSLINK_COLLECTIVES_COLLECTIVE_SPEC_H_
#define CROSSLINK_COLLECTIVES_COLLECTIVE_SPEC_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "crosslink/collectives/collective_options.h"
#include "crosslink/collectives/compression/wire_compression.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::collectives {

struct CollectiveSpec {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  // Allreduce only; kAuto until resolved (planning/plan_choice.h). Other kinds keep kAuto.
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  // Allreduce only: order the ranks by the predicted contact plan (contact_aware_planner.h). A
  // resolved contact-aware spec carries the chosen order in `participants`; the flag stays set
  // so that its plan is named "contact_aware_ring" / "contact_aware_tree".
  bool contact_aware = false;
  int world_size = 1;  // ranks in the group the collective runs in
  // Elements in each rank's buffer (allgather: the whole output; alltoall: the output, which
  // with even splits is also the input's size).
  size_t count = 0;
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;  // broadcast's source, a group rank; 0 otherwise
  size_t max_segment_bytes = kDefaultMaxSegmentBytes;
  // Allreduce of float32 only (the other kinds and types travel as they are).
  WireCompression compression = WireCompression::kNone;
  std::vector<int> participants;  // see the header comment; empty: every rank in order
  // Alltoall only, this rank's uneven splits (torch's input/output split sizes): send_counts[j]
  // elements of its input, in rank order, go to group rank j, and recv_counts[j] elements from
  // rank j land in its output, in rank order (count = their sum). Both empty: even splits, count
  // / world_size elements each way. Unlike every other field these are one rank's: the specs of
  // an uneven alltoall differ between ranks; rank a's send_counts[b] must equal rank b's
  // recv_counts[a], which the executor checks on the wire (kInvalidArgument, executor.h).
  std::vector<size_t> send_counts;
  std::vector<size_t> recv_counts;

  bool operator==(const CollectiveSpec& other) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const CollectiveSpec& s) {
    return H::combine(std::move(h), s.kind, s.algorithm, s.contact_aware, s.world_size, s.count,
                      s.type, s.op, s.root, s.max_segment_bytes, s.compression, s.participants,
                      s.send_counts, s.recv_counts);
  }

  // Ranks of the plan: participants.size(), or world_size when every rank takes part.
  int plan_world_size() const {
    return participants.empty() ? world_size : static_cast<int>(participants.size());
  }
  // The plan rank of group rank `rank`, or -1 when it does not take part.
  int PlanRank(int rank) const;
  // The group rank that runs plan rank `plan_rank`.
  int GroupRank(int plan_rank) const {
    return participants.empty() ? plan_rank : participants[plan_rank];
  }
};

// The spec of a collective called with these arguments in a group of `world_size` ranks: the one
// place where an entry point's shape becomes a spec. options.max_segment_bytes 0 takes the
// default; algorithm, contact_aware and compression apply to allreduce only (the other kinds
// ignore them, as their contracts say).
CollectiveSpec MakeCollectiveSpec(CollectiveKind kind, int world_size, size_t count, DataType type,
                                  ReduceOp op, int root, const CollectiveOptions& options);

// kInvalidArgument naming the field for a spec no planner accepts: world size < 1, root outside
// the group, invalid enumerators, max_segment_bytes 0, participants that repeat a rank or lie
// outside the group; an alltoall with participants (it runs over the whole group), with even
// splits of a count that world_size does not divide, or with splits not of world_size entries
// or whose receive counts do not sum to count (or overflow); splits on any other kind.
absl::Status ValidateSpec(const CollectiveSpec& spec);

// "allreduce ring 1024 float32 sum" (+ " contact-aware", " participants {0,2,3}", ...), for
// messages and logs.
std::string DescribeSpec(const CollectiveSpec& spec);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COLLECTIVE_SPEC_H_
