#include "crosslink/collectives/collective_spec.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "crosslink/collectives/compression/wire_codec.h"

namespace crosslink::collectives {

int CollectiveSpec::PlanRank(int rank) const {
  if (participants.empty()) return rank >= 0 && rank < world_size ? rank : -1;
  const auto it = std::find(participants.begin(), participants.end(), rank);
  return it == participants.end() ? -1 : static_cast<int>(it - participants.begin());
}

CollectiveSpec MakeCollectiveSpec(CollectiveKind kind, int world_size, size_t count, DataType type,
                                  ReduceOp op, int root, const CollectiveOptions& options) {
  CollectiveSpec spec;
  spec.kind = kind;
  spec.world_size = world_size;
  spec.count = count;
  spec.type = type;
  spec.op = op;
  spec.root = root;
  if (options.max_segment_bytes > 0) spec.max_segment_bytes = options.max_segment_bytes;
  if (kind == CollectiveKind::kAllreduce) {
    spec.algorithm = options.algorithm;
    spec.contact_aware = options.contact_aware;
    // Compression changes float32 messages only; other types travel as they are, so the spec
    // (the plan-cache key and the plan's signature) records none for them.
    if (type == DataType::kFloat32) spec.compression = options.compression;
  }
  return spec;
}

namespace {

// Sum of `counts`, or nullopt when it overflows size_t.
std::optional<size_t> CheckedSum(const std::vector<size_t>& counts) {
  size_t sum = 0;
  for (size_t c : counts) {
    if (c > std::numeric_limits<size_t>::max() - sum) return std::nullopt;
    sum += c;
  }
  return sum;
}

absl::Status ValidateAlltoallSplits(const CollectiveSpec& spec) {
  const bool has_splits = !spec.send_counts.empty() || !spec.recv_counts.empty();
  if (spec.kind != CollectiveKind::kAlltoall) {
    if (!has_splits) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("send/recv counts given for a ",
                                                   std::string(CollectiveKindName(spec.kind)),
                                                   ": only alltoall has splits"));
  }
  if (!spec.participants.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("alltoall with participants {%s}: it runs over the whole group",
                        absl::StrJoin(spec.participants, ",")));
  }
  const size_t n = static_cast<size_t>(spec.world_size);
  if (!has_splits) {
    if (spec.count % n != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "alltoall of %u elements with even splits: world size %d does not divide it", spec.count,
          spec.world_size));
    }
    return absl::OkStatus();
  }
  if (spec.send_counts.size() != n || spec.recv_counts.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrFormat("alltoall splits: %u send counts and %u receive counts for world size %d",
                        spec.send_counts.size(), spec.recv_counts.size(), spec.world_size));
  }
  const std::optional<size_t> sent = CheckedSum(spec.send_counts);
  const std::optional<size_t> received = CheckedSum(spec.recv_counts);
  if (!sent.has_value() || !received.has_value()) {
    return absl::InvalidArgumentError("alltoall splits: the counts' sum overflows");
  }
  if (*received != spec.count) {
    return absl::InvalidArgumentError(
        absl::StrFormat("alltoall splits: receive counts {%s} sum to %u, count is %u",
                        absl::StrJoin(spec.recv_counts, ","), *received, spec.count));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSpec(const CollectiveSpec& spec) {
  if (spec.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("world size %d, need at least 1", spec.world_size));
  }
  if (spec.root < 0 || spec.root >= spec.world_size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("root %d outside world size %d", spec.root, spec.world_size));
  }
  if (!IsValidDataType(spec.type)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid data type %d", static_cast<int>(spec.type)));
  }
  if (!IsValidReduceOp(spec.op)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid reduce op %d", static_cast<int>(spec.op)));
  }
  if (spec.max_segment_bytes == 0) return absl::InvalidArgumentError("max_segment_bytes is 0");
  if (spec.algorithm != AllreduceAlgorithm::kAuto && spec.algorithm != AllreduceAlgorithm::kRing &&
      spec.algorithm != AllreduceAlgorithm::kTree) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid allreduce algorithm %d", static_cast<int>(spec.algorithm)));
  }
  if (spec.compression != WireCompression::kNone && spec.compression != WireCompression::kBf16 &&
      spec.compression != WireCompression::kInt8) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid wire compression %d", static_cast<int>(spec.compression)));
  }
  if (absl::Status s = ValidateAlltoallSplits(spec); !s.ok()) return s;
  std::vector<bool> seen(spec.world_size, false);
  for (int r : spec.participants) {
    if (r < 0 || r >= spec.world_size || seen[r]) {
      return absl::InvalidArgumentError(
          absl::StrFormat("participants {%s}: rank %d repeats or lies outside world size %d",
                          absl::StrJoin(spec.participants, ","), r, spec.world_size));
    }
    seen[r] = true;
  }
  return absl::OkStatus();
}

std::string DescribeSpec(const CollectiveSpec& spec) {
  std::string out = std::string(CollectiveKindName(spec.kind));
  if (spec.kind == CollectiveKind::kAllreduce) {
    absl::StrAppend(&out, " ",
                    spec.algorithm == AllreduceAlgorithm::kTree   ? "tree"
                    : spec.algorithm == AllreduceAlgorithm::kRing ? "ring"
                                                                  : "auto");
    if (spec.contact_aware) absl::StrAppend(&out, " contact-aware");
  }
  absl::StrAppend(&out, " ", spec.count, " ", std::string(DataTypeName(spec.type)));
  if (spec.kind == CollectiveKind::kAllreduce || spec.kind == CollectiveKind::kReduceScatter) {
    absl::StrAppend(&out, " ", std::string(ReduceOpName(spec.op)));
  }
  if (spec.kind == CollectiveKind::kBroadcast) absl::StrAppend(&out, " root ", spec.root);
  if (!spec.send_counts.empty() || !spec.recv_counts.empty()) {
    absl::StrAppend(&out, " send {", absl::StrJoin(spec.send_counts, ","), "} recv {",
                    absl::StrJoin(spec.recv_counts, ","), "}");
  }
  if (spec.compression != WireCompression::kNone) {
    absl::StrAppend(&out, " ", WireCompressionName(spec.compression));
  }
  if (!spec.participants.empty()) {
    absl::StrAppend(&out, " participants {", absl::StrJoin(spec.participants, ","), "}");
  }
  return out;
}

}  // namespace crosslink::collectives
