#include "crosslink/runtime/node_layout.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace crosslink::runtime {

std::vector<int> NodeLayout::NodeRanks() const {
  std::vector<int> ranks(local_size);
  for (int i = 0; i < local_size; ++i) ranks[i] = node * local_size + i;
  return ranks;
}

std::vector<int> NodeLayout::CrossNodeRanks() const {
  std::vector<int> ranks(num_nodes);
  for (int n = 0; n < num_nodes; ++n) ranks[n] = n * local_size + local_rank;
  return ranks;
}

absl::StatusOr<NodeLayout> MakeNodeLayout(int rank, int world_size, int local_rank,
                                          int local_size) {
  const std::string numbers = absl::StrCat("rank ", rank, " of ", world_size, ", local rank ",
                                           local_rank, " of ", local_size, " per node");
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(absl::StrCat(numbers, ": rank outside the world"));
  }
  if (local_size < 1 || local_rank < 0 || local_rank >= local_size) {
    return absl::InvalidArgumentError(absl::StrCat(numbers, ": local rank outside the node"));
  }
  if (world_size % local_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(numbers,
                     ": the world is not a whole number of nodes (every node must "
                     "carry the same number of GPUs)"));
  }
  if (rank % local_size != local_rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        numbers, ": ranks are not numbered node by node (expected local rank ", rank % local_size,
        "); launch with block placement (torchrun, crosslink-run, srun "
        "--distribution=block, mpirun --map-by slot)"));
  }
  NodeLayout layout;
  layout.rank = rank;
  layout.world_size = world_size;
  layout.local_rank = local_rank;
  layout.local_size = local_size;
  layout.node = rank / local_size;
  layout.num_nodes = world_size / local_size;
  return layout;
}

absl::StatusOr<NodeLayout> NodeLayoutFromLaunchEnv(const LaunchEnv& env) {
  absl::StatusOr<NodeLayout> layout =
      MakeNodeLayout(env.rank, env.world_size, env.local_rank, env.local_world_size);
  if (!layout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", std::string(LauncherName(env.launcher)),
                     " environment: ", std::string(layout.status().message())));
  }
  return layout;
}

size_t ShardElements(size_t count, int parts) {
  const size_t n = static_cast<size_t>(std::max(parts, 1));
  return (count + n - 1) / n;
}

ShardRange ShardOf(size_t count, int parts, int index) {
  const size_t shard = ShardElements(count, parts);
  ShardRange range;
  range.offset = shard * static_cast<size_t>(std::max(index, 0));
  range.count = range.offset < count ? std::min(shard, count - range.offset) : 0;
  return range;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

absl::StatusOr<std::string> HexDecode(std::string_view hex, size_t expected_bytes) {
  if (hex.size() != expected_bytes * 2) {
    return absl::InvalidArgumentError(absl::StrCat("hex text of ", hex.size(),
                                                   " characters, expected ", expected_bytes * 2,
                                                   " (", expected_bytes, " bytes)"));
  }
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes(expected_bytes, '\0');
  for (size_t i = 0; i < expected_bytes; ++i) {
    const int hi = value(hex[2 * i]);
    const int lo = value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hex text has '", std::string(hex.substr(2 * i, 2)), "' at character ", 2 * i));
    }
    bytes[i] = static_cast<char>(hi * 16 + lo);
  }
  return bytes;
}

}  // namespace crosslink::runtime
