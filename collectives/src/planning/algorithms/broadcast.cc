// Binomial-tree broadcast (see algorithms.h): every segment goes root -> children, largest
// subtree first; a rank forwards segment k as soon as it arrived, while k+1 is still on its way.
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {

absl::StatusOr<Plan> PlanBroadcast(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "tree_broadcast";
  ASSIGN_OR_RETURN(const internal::PlanShape request, internal::ShapeFor(spec, only_rank, kName));
  const size_t seg_elems = SegmentElements(request.max_segment_bytes, request.type);
  const size_t segments = SegmentCount(request.count, seg_elems);
  if (absl::Status s = internal::CheckChunkSpace(segments, kName); !s.ok()) return s;
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kBroadcast);
  const int n = request.world_size;
  const Range all{0, request.count};
  for (int r = 0; r < n; ++r) {
    if (!internal::Wanted(request, r)) continue;
    const int parent = internal::TreeParent(r, request.root, n);
    const std::vector<int> children = internal::TreeChildren(r, request.root, n);
    for (size_t k = 0; k < segments; ++k) {
      const Range seg = SegmentRange(all, seg_elems, k);
      const uint32_t chunk = static_cast<uint32_t>(k);
      if (parent >= 0) {
        plan.ranks[r].push_back(Step{StepOp::kRecv, parent, seg.offset, seg.count, 0, chunk, 0});
      }
      for (size_t c = children.size(); c-- > 0;) {
        plan.ranks[r].push_back(Step{StepOp::kSend, children[c], seg.offset, seg.count, 0, chunk,
                                     static_cast<uint32_t>(1 + c)});
      }
    }
  }
  return plan;
}

}  // namespace crosslink::collectives
