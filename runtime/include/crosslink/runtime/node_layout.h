// NodeLayout: where a rank sits in a job whose nodes (satellites) each carry G GPUs, one rank per
// GPU, and the pure arithmetic the hierarchical allreduce (runtime/cuda/hierarchical_allreduce.h)
// builds on: which ranks share a node, which ranks form each cross-node group, how a buffer is cut
// into one equal shard per GPU, and how binary ids travel through the coordinator's text
// key-value store. Nothing here touches CUDA, so it is tested on machines without a GPU.
//
// Placement: ranks are numbered node by node (rank = node * G + local_rank), which is how
// torchrun, crosslink-run and Slurm's default block distribution number them; a launcher that
// places ranks round-robin across nodes (mpirun --map-by node) is refused with kInvalidArgument,
// because the node of a rank could then not be derived from the numbers alone.
//
// Thread-safety: pure functions and plain values.
#ifndef CROSSLINK_RUNTIME_NODE_LAYOUT_H_
#define CROSSLINK_RUNTIME_NODE_LAYOUT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/runtime/launch_env.h"

namespace crosslink::runtime {

struct NodeLayout {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // this rank's GPU index inside its node
  int local_size = 1;  // G: GPUs (ranks) per node, the same on every node
  int node = 0;        // this rank's node, 0 .. num_nodes-1
  int num_nodes = 1;

  // The ranks on this rank's node, in local-rank order (size local_size).
  std::vector<int> NodeRanks() const;
  // The ranks with this rank's local rank, one per node in node order (size num_nodes): the
  // group whose cross-node allreduce carries this GPU's shard. This rank is element `node`.
  std::vector<int> CrossNodeRanks() const;
};

// Validates and completes a layout. kInvalidArgument (naming the numbers) when world_size is not
// a multiple of local_size, a number is out of range, or local_rank != rank % local_size.
absl::StatusOr<NodeLayout> MakeNodeLayout(int rank, int world_size, int local_rank, int local_size);
// MakeNodeLayout from the launcher's numbering (LOCAL_RANK and LOCAL_WORLD_SIZE, or the Open MPI
// and Slurm equivalents; launch_env.h).
absl::StatusOr<NodeLayout> NodeLayoutFromLaunchEnv(const LaunchEnv& env);

// Elements per shard when `count` elements are cut into `parts` equal shards: ceil(count/parts)
// (0 for count 0). NCCL's reduce-scatter and allgather need equal shards, so a buffer whose count
// is not a multiple of parts is padded to ShardElements * parts.
size_t ShardElements(size_t count, int parts);

// The real (unpadded) elements of shard `index`: offset index * ShardElements, and as many of
// the buffer's elements as fall inside it (fewer, or none, for the last shards of a padded
// buffer).
struct ShardRange {
  size_t offset = 0;
  size_t count = 0;
};
ShardRange ShardOf(size_t count, int parts, int index);

// Lower-case hex of arbitrary bytes, and back. The key-value store carries text; an NCCL unique
// id is 128 opaque bytes. HexDecode: kInvalidArgument for an odd length, a non-hex character or
// a length other than expected_bytes (naming what was found).
std::string HexEncode(std::string_view bytes);
absl::StatusOr<std::string> HexDecode(std::string_view hex, size_t expected_bytes);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_NODE_LAYOUT_H_
