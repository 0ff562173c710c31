// Internal helpers shared by the planners in this folder (not a public header): request
// validation, the plan shell, chunk numbering limits, and the two building blocks several
// algorithms share, the ring phases and the binomial tree.
#ifndef CROSSLINK_COLLECTIVES_SRC_ALGORITHMS_PLAN_BUILDER_H_
#define CROSSLINK_COLLECTIVES_SRC_ALGORITHMS_PLAN_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::collectives::internal {

// Chunk numbers at and above this are reserved for control frames (the executor's abort frame).
inline constexpr uint64_t kFirstReservedChunk = 0xFFFFFF00u;

// What a planner plans, in plan ranks (internal: the public description is CollectiveSpec): the
// spec for spec.plan_world_size() ranks, with broadcast's root translated to its plan rank.
struct PlanShape {
  int world_size = 1;
  size_t count = 0;
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;
  size_t max_segment_bytes = kDefaultMaxSegmentBytes;
  int only_rank = -1;
  WireCompression compression = WireCompression::kNone;
};

// The shape of `spec` for `only_rank` (-1: every rank), or kInvalidArgument naming the
// offending field for `algorithm` (ValidateSpec, and only_rank or the root outside the plan).
absl::StatusOr<PlanShape> ShapeFor(const CollectiveSpec& spec, int only_rank,
                                   const char* algorithm);

// A plan with the shape's fields copied and one empty step list per rank.
Plan MakePlanShell(const PlanShape& request, const char* algorithm, CollectiveKind kind);

// Should the planner fill rank r's list?
inline bool Wanted(const PlanShape& request, int rank) {
  return request.only_rank < 0 || request.only_rank == rank;
}

// kInvalidArgument when `chunks` chunk numbers do not fit below kFirstReservedChunk.
absl::Status CheckChunkSpace(uint64_t chunks, const char* algorithm);

// Segments per ring block: the largest block's segment count, so chunk numbers are
// block * RingSegmentsPerBlock + segment and never collide.
size_t RingSegmentsPerBlock(const PlanShape& request);

// Ring reduce-scatter steps of rank r (n-1 steps): step s sends block (r-s-1) to r+1 and
// reduces block (r-s-2) from r-1, segment by segment. Each segment's send is listed before its
// receive: an empty send is ordered after the receives listed before it (executor.h), and what
// step s sends was received in step s-1, never in step s. Ends with rank r
// owning block r; appends a kFinalize of block r when the op needs one. Chunks start at
// chunk_base; stages at stage_base.
void AppendRingReduceScatter(const PlanShape& request, int rank, uint32_t chunk_base,
                             uint32_t stage_base, std::vector<Step>& steps);

// Ring allgather steps of rank r (n-1 steps): step s sends block (r-s) to r+1 and receives block
// (r-s-1) from r-1 into place.
void AppendRingAllgather(const PlanShape& request, int rank, uint32_t chunk_base,
                         uint32_t stage_base, std::vector<Step>& steps);

// Binomial tree over ranks relative to `root` (relative rank v = (r - root) mod n): the parent of
// v > 0 is v minus its lowest set bit; the children of v are v + 2^k for 2^k below v's lowest set
// bit (every 2^k for the root), in increasing k. Returned as absolute ranks.
int TreeParent(int rank, int root, int world_size);
std::vector<int> TreeChildren(int rank, int root, int world_size);

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_ALGORITHMS_PLAN_BUILDER_H_
