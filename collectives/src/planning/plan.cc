#include "crosslink/collectives/plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/compression/wire_codec.h"

namespace crosslink::collectives {

std::string_view CollectiveKindName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllreduce:
      return "allreduce";
    case CollectiveKind::kReduceScatter:
      return "reduce_scatter";
    case CollectiveKind::kAllgather:
      return "allgather";
    case CollectiveKind::kBroadcast:
      return "broadcast";
    case CollectiveKind::kBarrier:
      return "barrier";
    case CollectiveKind::kAlltoall:
      return "alltoall";
  }
  return "unknown";
}

std::string_view StepOpName(StepOp op) {
  switch (op) {
    case StepOp::kSend:
      return "send";
    case StepOp::kRecv:
      return "recv";
    case StepOp::kRecvReduce:
      return "recv_reduce";
    case StepOp::kCopy:
      return "copy";
    case StepOp::kFinalize:
      return "finalize";
    case StepOp::kSendInput:
      return "send_input";
  }
  return "unknown";
}

Range BlockRange(size_t count, int blocks, int block) {
  const size_t n = static_cast<size_t>(blocks);
  const size_t b = static_cast<size_t>(block);
  const size_t base = count / n;
  const size_t extra = count % n;
  return Range{b * base + std::min(b, extra), base + (b < extra ? 1 : 0)};
}

size_t SegmentCount(size_t range_count, size_t segment_elems) {
  if (range_count == 0) return 1;
  return (range_count + segment_elems - 1) / segment_elems;
}

Range SegmentRange(Range range, size_t segment_elems, size_t segment) {
  const size_t begin = std::min(range.count, segment * segment_elems);
  const size_t end = std::min(range.count, begin + segment_elems);
  return Range{range.offset + begin, end - begin};
}

size_t SegmentElements(size_t max_segment_bytes, DataType type) {
  return std::max<size_t>(1, max_segment_bytes / DataTypeSize(type));
}

std::string DescribePlan(const Plan& plan) {
  std::string out = absl::StrFormat("%s %s world=%d count=%u %s %s root=%d max_segment_bytes=%u\n",
                                    plan.algorithm, CollectiveKindName(plan.kind), plan.world_size,
                                    plan.count, DataTypeName(plan.type), ReduceOpName(plan.op),
                                    plan.root, plan.max_segment_bytes);
  if (plan.compression != WireCompression::kNone) {
    out.insert(out.size() - 1,
               absl::StrCat(" compression=", WireCompressionName(plan.compression)));
  }
  if (plan.input_count != 0) {
    out.insert(out.size() - 1, absl::StrCat(" input_count=", plan.input_count));
  }
  for (size_t r = 0; r < plan.ranks.size(); ++r) {
    const std::vector<Step>& steps = plan.ranks[r];
    absl::StrAppendFormat(&out, "rank %u: %u steps\n", r, steps.size());
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& s = steps[i];
      absl::StrAppendFormat(&out, "  #%u %s", i, StepOpName(s.op));
      switch (s.op) {
        case StepOp::kSend:
          absl::StrAppendFormat(&out, " to %d", s.peer);
          break;
        case StepOp::kRecv:
        case StepOp::kRecvReduce:
          absl::StrAppendFormat(&out, " from %d", s.peer);
          break;
        case StepOp::kCopy:
          absl::StrAppendFormat(&out, " input[%u,+%u) ->", s.src_offset, s.count);
          break;
        case StepOp::kFinalize:
          break;
        case StepOp::kSendInput:
          // Reads the input only: its range is the input's, not the data buffer's.
          absl::StrAppendFormat(&out, " to %d input[%u,+%u) chunk %u stage %u\n", s.peer,
                                s.src_offset, s.count, s.chunk, s.stage);
          continue;
      }
      absl::StrAppendFormat(&out, " [%u,+%u) chunk %u stage %u\n", s.offset, s.count, s.chunk,
                            s.stage);
    }
  }
  return out;
}

absl::Status PlanIsConsistent(const Plan& plan) {
  const int n = plan.world_size;
  if (static_cast<int>(plan.ranks.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrFormat("plan %s has step lists for %u ranks, world size %d", plan.algorithm,
                        plan.ranks.size(), n));
  }
  // Per directed edge (from, to): the sends of `from` and the receives of `to`, in order.
  std::map<std::pair<int, int>, std::vector<const Step*>> sends, recvs;
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < plan.ranks[r].size(); ++i) {
      const Step& s = plan.ranks[r][i];
      const bool local = s.op == StepOp::kCopy || s.op == StepOp::kFinalize;
      if (!local && (s.peer < 0 || s.peer >= n || s.peer == r)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("plan %s: rank %d step #%u %s names peer %d (world size %d)",
                            plan.algorithm, r, i, StepOpName(s.op), s.peer, n));
      }
      // kSendInput reads input[src_offset, +count) only; kCopy also reads it, bounded where the
      // plan records the input's size (alltoall).
      const bool reads_input =
          s.op == StepOp::kSendInput || (s.op == StepOp::kCopy && plan.input_count > 0);
      if (reads_input &&
          (s.src_offset > plan.input_count || s.count > plan.input_count - s.src_offset)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "plan %s: rank %d step #%u reads input[%u,+%u), the input has %u elements",
            plan.algorithm, r, i, s.src_offset, s.count, plan.input_count));
      }
      if (s.op != StepOp::kSendInput &&
          (s.offset > plan.count || s.count > plan.count - s.offset)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("plan %s: rank %d step #%u covers [%u,+%u), buffer has %u elements",
                            plan.algorithm, r, i, s.offset, s.count, plan.count));
      }
      if (IsSendOp(s.op)) sends[{r, s.peer}].push_back(&s);
      if (s.op == StepOp::kRecv || s.op == StepOp::kRecvReduce) recvs[{s.peer, r}].push_back(&s);
    }
  }
  auto check = [&](const auto& a, const auto& b, bool a_is_sends) -> absl::Status {
    for (const auto& [edge, list] : a) {
      auto it = b.find(edge);
      const size_t other = it == b.end() ? 0 : it->second.size();
      if (other != list.size()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("plan %s: rank %d -> rank %d carries %u sends but %u receives",
                            plan.algorithm, edge.first, edge.second,
                            a_is_sends ? list.size() : other, a_is_sends ? other : list.size()));
      }
      for (size_t i = 0; i < list.size(); ++i) {
        const Step* x = list[i];
        const Step* y = it->second[i];
        if (x->chunk != y->chunk || x->count != y->count) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "plan %s: message %u from rank %d to rank %d: chunk %u/%u, count %u/%u differ "
              "between sender and receiver",
              plan.algorithm, i, edge.first, edge.second, x->chunk, y->chunk, x->count, y->count));
        }
      }
    }
    return absl::OkStatus();
  };
  if (absl::Status s = check(sends, recvs, true); !s.ok()) return s;
  return check(recvs, sends, false);
}

}  // namespace crosslink::collectives
