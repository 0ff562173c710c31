// Pairwise-exchange alltoall (see algorithms.h): rank r copies its own block locally, then at
// stage s = 1..n-1 sends its block for rank (r+s) mod n straight from the input and receives
// rank (r-s) mod n's block into place, segment by segment. Each stage pairs every rank with one
// sender and one receiver, so no link carries two blocks at once; the sends read only the
// read-only input and wait for nothing, which lets the executor overlap the stages.
//
// Chunk numbers carry each block's segmentation: segment k of a block of K segments is chunk
// 2k + (k == K-1). Two ranks that disagree on a block's size (uneven splits that do not match)
// then disagree on a chunk or a length no later than the shorter block's last segment, so the
// executor reports kInvalidArgument instead of one of them waiting for a segment that never
// comes.
#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "plan_builder.h"

namespace crosslink::collectives {
namespace {

uint32_t SegmentChunk(size_t segment, size_t segments) {
  return static_cast<uint32_t>(2 * segment + (segment + 1 == segments ? 1 : 0));
}

// Per-peer element ranges of one rank's buffer cut by `counts` (in rank order).
std::vector<Range> Layout(const std::vector<size_t>& counts) {
  std::vector<Range> ranges(counts.size());
  size_t offset = 0;
  for (size_t j = 0; j < counts.size(); ++j) {
    ranges[j] = Range{offset, counts[j]};
    offset += counts[j];
  }
  return ranges;
}

}  // namespace

absl::StatusOr<Plan> PlanAlltoall(const CollectiveSpec& spec, int only_rank) {
  constexpr char kName[] = "pairwise_alltoall";
  ASSIGN_OR_RETURN(const internal::PlanShape request, internal::ShapeFor(spec, only_rank, kName));
  const int n = request.world_size;
  const bool uneven = !spec.send_counts.empty();
  if (uneven && only_rank < 0 && n > 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: uneven splits describe one rank (send {%s}); plan each rank with its own spec and "
        "only_rank",
        kName, absl::StrJoin(spec.send_counts, ",")));
  }
  const std::vector<size_t> even(n, request.count / n);
  const std::vector<size_t>& send_counts = uneven ? spec.send_counts : even;
  const std::vector<size_t>& recv_counts = uneven ? spec.recv_counts : even;
  const std::vector<Range> send_layout = Layout(send_counts);
  const std::vector<Range> recv_layout = Layout(recv_counts);
  const size_t seg_elems = SegmentElements(request.max_segment_bytes, request.type);
  size_t most_segments = 1;
  for (int j = 0; j < n; ++j) {
    most_segments = std::max({most_segments, SegmentCount(send_counts[j], seg_elems),
                              SegmentCount(recv_counts[j], seg_elems)});
  }
  if (absl::Status s = internal::CheckChunkSpace(2 * static_cast<uint64_t>(most_segments), kName);
      !s.ok()) {
    return s;
  }
  Plan plan = internal::MakePlanShell(request, kName, CollectiveKind::kAlltoall);
  plan.input_count = uneven ? send_layout.back().offset + send_layout.back().count : request.count;
  for (int r = 0; r < n; ++r) {
    if (!internal::Wanted(request, r)) continue;
    std::vector<Step>& steps = plan.ranks[r];
    // The own block never leaves the rank. With uneven splits the spec is r's: its counts for
    // itself must agree like any pair's.
    if (send_counts[r] != recv_counts[r]) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: rank %d sends itself %u elements but expects %u from itself", kName,
                          r, send_counts[r], recv_counts[r]));
    }
    steps.push_back(Step{StepOp::kCopy, -1, recv_layout[r].offset, recv_layout[r].count,
                         send_layout[r].offset, 0, 0});
    for (int s = 1; s < n; ++s) {
      const int to = (r + s) % n;
      const int from = (r - s + n) % n;
      const size_t send_segments = SegmentCount(send_counts[to], seg_elems);
      const size_t recv_segments = SegmentCount(recv_counts[from], seg_elems);
      for (size_t k = 0; k < std::max(send_segments, recv_segments); ++k) {
        if (k < send_segments) {
          const Range seg = SegmentRange(send_layout[to], seg_elems, k);
          steps.push_back(Step{StepOp::kSendInput, to, 0, seg.count, seg.offset,
                               SegmentChunk(k, send_segments), static_cast<uint32_t>(s)});
        }
        if (k < recv_segments) {
          const Range seg = SegmentRange(recv_layout[from], seg_elems, k);
          steps.push_back(Step{StepOp::kRecv, from, seg.offset, seg.count, 0,
                               SegmentChunk(k, recv_segments), static_cast<uint32_t>(s)});
        }
      }
    }
  }
  return plan;
}

}  // namespace crosslink::collectives
