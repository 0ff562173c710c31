// Tree allreduce (see algorithms.h): binomial reduce to rank 0, then binomial broadcast from it.
//
// Reduction order per element at rank v: its own value, then each child's partial result in
// increasing child distance (v+1, v+2, v+4, ...), each combined as op(mine, child's). Rank 0
// divides for kAvg once the last child arrived. Segments flow independently, so segment k+1
// climbs the tree while segment k is being reduced or already descends.
//
// Chunks: reduce segments 0..S-1, broadcast segments S..2S-1.
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/reduce.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanTreeAllreduce(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "tree_allreduce";
  ASSIGN_OR_RETURN(const internal::PlanShape request, internal::ShapeFor(spec, only_rank, kName));
  const size_t seg_elems = SegmentElements(request.max_segment_bytes, request.type);
  const size_t segments = SegmentCount(request.count, seg_elems);
  if (absl::Status s = internal::CheckChunkSpace(2 * static_cast<uint64_t>(segments), kName);
      !s.ok()) {
    return s;
  }
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kAllreduce);
  const int n = request.world_size;
  const bool finalize = GetFinalizeFn(request.type, request.op) != nullptr;
  const Range all{0, request.count};
  for (int r = 0; r < n; ++r) {
    if (!internal::Wanted(request, r)) continue;
    std::vector<Step>& steps = plan.ranks[r];
    const int parent = internal::TreeParent(r, 0, n);
    const std::vector<int> children = internal::TreeChildren(r, 0, n);
    for (size_t k = 0; k < segments; ++k) {
      const Range seg = SegmentRange(all, seg_elems, k);
      const uint32_t chunk = static_cast<uint32_t>(k);
      for (size_t c = 0; c < children.size(); ++c) {
        steps.push_back(Step{StepOp::kRecvReduce, children[c], seg.offset, seg.count, 0, chunk,
                             static_cast<uint32_t>(c)});
      }
      if (parent >= 0) {
        steps.push_back(Step{StepOp::kSend, parent, seg.offset, seg.count, 0, chunk,
                             static_cast<uint32_t>(children.size())});
      } else if (finalize) {
        steps.push_back(Step{StepOp::kFinalize, -1, seg.offset, seg.count, 0, chunk,
                             static_cast<uint32_t>(children.size())});
      }
    }
    // Broadcast: the largest subtree (the last child) first, so the deepest branch starts early.
    for (size_t k = 0; k < segments; ++k) {
      const Range seg = SegmentRange(all, seg_elems, k);
      const uint32_t chunk = static_cast<uint32_t>(segments + k);
      if (parent >= 0) {
        steps.push_back(Step{StepOp::kRecv, parent, seg.offset, seg.count, 0, chunk, 32});
      }
      for (size_t c = children.size(); c-- > 0;) {
        steps.push_back(Step{StepOp::kSend, children[c], seg.offset, seg.count, 0, chunk,
                             static_cast<uint32_t>(33 + c)});
      }
    }
  }
  return plan;
}

}  // namespace crosslink::collectives
