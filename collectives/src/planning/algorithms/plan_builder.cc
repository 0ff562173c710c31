#include "plan_builder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/reduce.h"

namespace crosslink::collectives::internal {

absl::StatusOr<PlanShape> ShapeFor(const CollectiveSpec& spec, int only_rank,
                                   const char* algorithm) {
  if (absl::Status s = ValidateSpec(spec); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(algorithm, ": ", s.message()));
  }
  PlanShape request;
  request.world_size = spec.plan_world_size();
  request.count = spec.count;
  request.type = spec.type;
  request.op = spec.op;
  request.root = spec.PlanRank(spec.root);
  request.max_segment_bytes = spec.max_segment_bytes;
  request.only_rank = only_rank;
  request.compression = spec.compression;
  if (only_rank >= request.world_size) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: only_rank %d outside world size %d",
                                                      algorithm, only_rank, request.world_size));
  }
  if (request.root < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: root %d is not one of the participants", algorithm, spec.root));
  }
  return request;
}

Plan MakePlanShell(const PlanShape& request, const char* algorithm, CollectiveKind kind) {
  Plan plan;
  plan.algorithm = algorithm;
  plan.kind = kind;
  plan.world_size = request.world_size;
  plan.count = request.count;
  plan.type = request.type;
  plan.op = request.op;
  plan.root = request.root;
  plan.max_segment_bytes = request.max_segment_bytes;
  if (kind == CollectiveKind::kAllreduce && request.type == DataType::kFloat32) {
    plan.compression = request.compression;
  }
  plan.ranks.resize(request.world_size);
  return plan;
}

absl::Status CheckChunkSpace(uint64_t chunks, const char* algorithm) {
  if (chunks >= kFirstReservedChunk) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %u messages per rank exceed the 32-bit chunk numbering; raise max_segment_bytes",
        algorithm, chunks));
  }
  return absl::OkStatus();
}

size_t RingSegmentsPerBlock(const PlanShape& request) {
  const Range largest = BlockRange(request.count, request.world_size, 0);
  return SegmentCount(largest.count, SegmentElements(request.max_segment_bytes, request.type));
}

namespace {
int Mod(int a, int n) { return ((a % n) + n) % n; }
}  // namespace

namespace {

// One ring phase (n - 1 stages): at stage s a rank sends block (rank - s - block_shift) to its
// successor and takes block (rank - s - block_shift - 1) from its predecessor with `recv_op`,
// segment by segment, so sends and receives of a stage interleave and pipeline. Reduce-scatter
// shifts by 1 and reduces; allgather shifts by 0 and copies.
void AppendRingPhase(const PlanShape& request, int rank, uint32_t chunk_base, uint32_t stage_base,
                     int block_shift, StepOp recv_op, std::vector<Step>& steps) {
  const int n = request.world_size;
  const size_t seg_elems = SegmentElements(request.max_segment_bytes, request.type);
  const size_t per_block = RingSegmentsPerBlock(request);
  const int next = Mod(rank + 1, n);
  const int prev = Mod(rank - 1, n);
  for (int s = 0; s < n - 1; ++s) {
    const int send_block = Mod(rank - s - block_shift, n);
    const int recv_block = Mod(rank - s - block_shift - 1, n);
    const Range send_range = BlockRange(request.count, n, send_block);
    const Range recv_range = BlockRange(request.count, n, recv_block);
    const size_t send_segments = SegmentCount(send_range.count, seg_elems);
    const size_t recv_segments = SegmentCount(recv_range.count, seg_elems);
    for (size_t k = 0; k < std::max(send_segments, recv_segments); ++k) {
      if (k < send_segments) {
        const Range seg = SegmentRange(send_range, seg_elems, k);
        steps.push_back(Step{StepOp::kSend, next, seg.offset, seg.count, 0,
                             static_cast<uint32_t>(chunk_base + send_block * per_block + k),
                             stage_base + s});
      }
      if (k < recv_segments) {
        const Range seg = SegmentRange(recv_range, seg_elems, k);
        steps.push_back(Step{recv_op, prev, seg.offset, seg.count, 0,
                             static_cast<uint32_t>(chunk_base + recv_block * per_block + k),
                             stage_base + s});
      }
    }
  }
}

}  // namespace

void AppendRingReduceScatter(const PlanShape& request, int rank, uint32_t chunk_base,
                             uint32_t stage_base, std::vector<Step>& steps) {
  const int n = request.world_size;
  if (n == 1) {
    if (GetFinalizeFn(request.type, request.op) != nullptr) {
      steps.push_back(Step{StepOp::kFinalize, -1, 0, request.count, 0, 0, stage_base});
    }
    return;
  }
  AppendRingPhase(request, rank, chunk_base, stage_base, /*block_shift=*/1, StepOp::kRecvReduce,
                  steps);
  if (GetFinalizeFn(request.type, request.op) != nullptr) {
    const Range own = BlockRange(request.count, n, rank);
    steps.push_back(Step{StepOp::kFinalize, -1, own.offset, own.count, 0, 0, stage_base + n - 1});
  }
}

void AppendRingAllgather(const PlanShape& request, int rank, uint32_t chunk_base,
                         uint32_t stage_base, std::vector<Step>& steps) {
  AppendRingPhase(request, rank, chunk_base, stage_base, /*block_shift=*/0, StepOp::kRecv, steps);
}

int TreeParent(int rank, int root, int world_size) {
  const int v = Mod(rank - root, world_size);
  if (v == 0) return -1;
  const int parent_v = v & (v - 1);  // clear the lowest set bit
  return (parent_v + root) % world_size;
}

std::vector<int> TreeChildren(int rank, int root, int world_size) {
  const int v = Mod(rank - root, world_size);
  const int lowbit = v == 0 ? world_size : (v & -v);
  std::vector<int> children;
  for (int bit = 1; bit < lowbit && v + bit < world_size; bit <<= 1) {
    children.push_back((v + bit + root) % world_size);
  }
  return children;
}

}  // namespace crosslink::collectives::internal
