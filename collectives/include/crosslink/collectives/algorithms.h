// The planners: each turns a CollectiveSpec into a Plan (plan.h). One algorithm per source file in
// collectives/src/algorithms/, as Gloo keeps them. Planners never touch a transport; they are
// pure functions of the spec, so every rank that plans the same spec gets the same plan.
//
// Segmenting: every block a planner moves is cut into segments of at most max_segment_bytes (at
// least one element) so the executor can keep several in flight and overlap receiving segment
// k+1 with reducing and forwarding segment k. Tests shrink max_segment_bytes to force many.
//
// Status codes: kInvalidArgument for a bad spec (ValidateSpec), only_rank out of range, or a
// segment count that overflows the 32-bit chunk numbering (raise max_segment_bytes then).
//
// Thread-safety: pure functions.
#ifndef CROSSLINK_COLLECTIVES_ALGORITHMS_H_
#define CROSSLINK_COLLECTIVES_ALGORITHMS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::collectives {

// Every planner plans `spec` (collective_spec.h) for spec.plan_world_size() plan ranks: plan rank
// i is run by group rank spec.GroupRank(i), and broadcast's root is spec.PlanRank(spec.root).
// only_rank -1 fills every plan rank's step list (tests, simulators); r fills only plan rank r's,
// which is all the executor needs and keeps planning O(steps of one rank) on the
// latency-critical path. The spec's kind and algorithm are not checked by the individual
// planners (PlanCollective dispatches on them).

// The plan of a resolved spec: the planner its kind (and, for allreduce, its algorithm) names.
// kInvalidArgument for an allreduce whose algorithm is still kAuto (resolve it first:
// planning/plan_choice.h) and for everything ValidateSpec rejects. A contact-aware spec's plan is
// named "contact_aware_ring" / "contact_aware_tree".
absl::StatusOr<Plan> PlanCollective(const CollectiveSpec& spec, int only_rank = -1);

// Allreduce as a ring reduce-scatter then a ring allgather (Patarasuk & Yuan): 2(n-1) steps, each
// rank sends 2(n-1)/n of the buffer, which is bandwidth-optimal. Block b is reduced along the
// ring starting at rank b+1 and ending at its owner, rank b, which applies kAvg's division; the
// allgather then copies the owner's bits to every rank.
absl::StatusOr<Plan> PlanRingAllreduce(const CollectiveSpec& spec, int only_rank = -1);

// Allreduce as a binomial-tree reduce to rank 0 then a binomial-tree broadcast: 2*ceil(log2 n)
// message latencies instead of the ring's 2(n-1), for small, latency-bound buffers. Works for any
// n (no power-of-two folding needed). Rank 0 computes every final value, so ranks agree bit for
// bit. Segmented, so large buffers pipeline down and up the tree.
absl::StatusOr<Plan> PlanTreeAllreduce(const CollectiveSpec& spec, int only_rank = -1);

// Ring reduce-scatter: afterwards rank r's block BlockRange(count, n, r) of its buffer holds the
// reduced (and for kAvg, divided) block; the rest of the buffer holds partial sums.
absl::StatusOr<Plan> PlanReduceScatter(const CollectiveSpec& spec, int only_rank = -1);

// Ring allgather: rank r contributes BlockRange(count, n, r) (copied from the input buffer first,
// step kCopy, which the executor skips when input already is that block) and ends with all blocks.
absl::StatusOr<Plan> PlanAllgather(const CollectiveSpec& spec, int only_rank = -1);

// Binomial-tree broadcast of the whole buffer from `root`, segmented and pipelined.
absl::StatusOr<Plan> PlanBroadcast(const CollectiveSpec& spec, int only_rank = -1);

// Pairwise-exchange alltoall: afterwards output block j (recv_counts[j] elements, or count / n
// with even splits) holds rank j's input block for this rank. Rank r copies its own block from
// the input (kCopy) and at stage s = 1..n-1 sends its block for rank (r+s) mod n straight from the
// input (kSendInput) while receiving rank (r-s) mod n's block into place: n-1 stages, each rank
// sends (n-1)/n of its input once. With uneven splits the spec is one rank's (collective_spec.h),
// so only_rank must name the plan rank it belongs to (kInvalidArgument otherwise, except for one
// rank), and a rank whose splits for itself disagree gets kInvalidArgument. Reduce op ignored.
absl::StatusOr<Plan> PlanAlltoall(const CollectiveSpec& spec, int only_rank = -1);

// Dissemination barrier: ceil(log2 n) rounds of empty messages; no rank leaves before every rank
// has entered. count, type and op are ignored (the plan records count 0).
absl::StatusOr<Plan> PlanBarrier(const CollectiveSpec& spec, int only_rank = -1);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_ALGORITHMS_H_
