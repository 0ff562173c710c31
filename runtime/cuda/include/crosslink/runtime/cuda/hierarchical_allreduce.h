// HierarchicalAllreduce: the allreduce of a job whose nodes (satellites) each carry G GPUs joined
// by NVLink, and whose nodes are joined by crosslinks. Inside a node NCCL is the right tool;
// between nodes Crosslink's outage-aware collectives are. So a device buffer is
//   1. reduce-scattered inside the node with NCCL (each GPU ends with the node's sum of one
//      shard, ShardElements(count, G) elements; node_layout.h),
//   2. allreduced across nodes, shard by shard: GPU l of every node runs a Crosslink allreduce of
//      its shard with GPU l of the other nodes (a cross-node Communicator per local rank, whose
//      ranks are the nodes; its device buffer is staged as in device_collectives.h),
//   3. allgathered inside the node with NCCL,
// so each crosslink carries 1/G of the buffer per GPU and all G GPUs of a node use their own NIC
// path at once. kAvg sums in steps 1 and 2 and divides once by the world size before step 3
// (DeviceFinalize), matching the flat allreduce's definition (datatype.h). With G = 1 there is no
// NCCL step: the job's own Communicator allreduces the device buffer. With one node there is no
// cross-node step.
//
// Cross-node communicators. Each group of GPUs with the same local rank gets its own Communicator
// with its own coordinator, which the group's node-0 process hosts (CoordinatorServer on an
// ephemeral port of options.listen_host) and announces, with a fresh job token, through the job
// coordinator's key-value store. Why not run the cross-node step on the job's own mesh with a
// subset plan: the job's Communicator numbers its collectives and plans for the whole world, and
// groups of different local ranks would run their collectives concurrently on it; a Communicator
// per group keeps sequence numbers, plans, heartbeats, the contact-aware planner and error
// recovery exactly those of the flat path, with nodes as its ranks (node j plays the scenario's
// [cluster] satellite j), at the cost of one extra TCP mesh per local rank. The NCCL unique id of
// each node travels through the same store as hex text.
//
// Lifecycle, blocking and collectives: Create is collective over every rank of `job` and blocks
// until NCCL and the cross-node communicator are up or options.setup_timeout passes. Allreduce is
// collective over every rank of the job (same count, type, op) and blocks until the result is in
// the device buffer or the deadline (min(options.deadline, now + options.timeout)). NCCL calls
// are launched on non-blocking communicators and polled with ncclCommGetAsyncError against the
// deadline; on a timeout, an NCCL or CUDA error while waiting, or a failed cross-node step, the
// NCCL communicator is aborted (ncclCommAbort) and every later call fails with
// kFailedPrecondition carrying the first error.
//
// Status codes: kInvalidArgument (Create: a layout that is not `job`'s rank and world size;
// Allreduce: a host buffer, a buffer on another device than Create's, a bad type/op; NCCL's
// ncclInvalidArgument / ncclInvalidUsage), kNotFound (Create: an unreadable scenario_path),
// kDeadlineExceeded (NCCL or a copy did not finish in time), kUnavailable (ncclSystemError,
// ncclRemoteError), kInternal (other NCCL errors), kFailedPrecondition (an earlier call failed),
// the Communicator's and the coordinator's codes for the cross-node step and the key-value store,
// CUDA errors (cuda_status.h). Every message names the rank, its node and local rank.
// Thread-safety: one call at a time per object. Ownership: `job` must outlive the object.
// Device: Create binds the object to the current CUDA device (set it to this rank's GPU first).
#ifndef CROSSLINK_RUNTIME_CUDA_HIERARCHICAL_ALLREDUCE_H_
#define CROSSLINK_RUNTIME_CUDA_HIERARCHICAL_ALLREDUCE_H_

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/runtime/node_layout.h"

namespace crosslink::runtime {

struct HierarchicalAllreduceOptions {
  // Names this object's keys in the job's key-value store. Every rank passes the same name;
  // creating objects with the same name again in one job is fine (each Create takes a fresh
  // generation of keys), as long as every rank creates them in the same order.
  std::string name = "default";
  // Interface the cross-node communicators listen on and their coordinators bind, and the
  // address announced to the other nodes; 127.0.0.1 for a job on one machine.
  std::string listen_host = "127.0.0.1";
  // Scenario the cross-node communicators play (node j is [cluster] satellite j); empty: plain
  // TCP between nodes.
  std::filesystem::path scenario_path;
  absl::Duration setup_timeout = absl::Seconds(120);
  // Run the NCCL steps even when G = 1 (they are then device-to-device copies), so that a
  // machine with one GPU exercises the NCCL path (NCCL refuses two ranks on one GPU in a
  // communicator, so G = 1 is all such a machine can run). For tests and the device check.
  bool nccl_with_one_gpu = false;
};

class HierarchicalAllreduce {
 public:
  static absl::StatusOr<std::unique_ptr<HierarchicalAllreduce>> Create(
      Communicator& job, const NodeLayout& layout, const HierarchicalAllreduceOptions& options);
  // Destroys the NCCL communicator (aborts it when a call failed) and the cross-node
  // communicator; does not wait for peers.
  ~HierarchicalAllreduce();
  HierarchicalAllreduce(const HierarchicalAllreduce&) = delete;
  HierarchicalAllreduce& operator=(const HierarchicalAllreduce&) = delete;

  // In place over `count` elements of device memory at `data`. The NCCL steps run on `stream`
  // after the work already queued there; on return the result is in `data`.
  absl::Status Allreduce(void* data, size_t count, collectives::DataType type,
                         collectives::ReduceOp op, const CollectiveOptions& options = {},
                         cudaStream_t stream = nullptr);

  const NodeLayout& layout() const { return layout_; }
  // Whether the NCCL steps run (G > 1, or nccl_with_one_gpu).
  bool uses_nccl() const { return nccl_ != nullptr; }
  // The communicator of the cross-node step: the group's own, or the job's when G = 1; nullptr
  // with a single node.
  Communicator* cross_node() const { return cross_node_; }

 private:
  HierarchicalAllreduce(Communicator& job, const NodeLayout& layout);
  absl::Status SetUpNccl(const std::string& prefix, absl::Time deadline);
  absl::Status SetUpCrossNode(const std::string& prefix,
                              const HierarchicalAllreduceOptions& options, absl::Time deadline);
  // Waits until `event` (recorded after NCCL work) completes, watching NCCL's async error;
  // aborts the NCCL communicator on an error or at the deadline.
  absl::Status WaitNccl(cudaEvent_t event, absl::Time deadline, const std::string& what);
  // Waits while an NCCL call on the non-blocking communicator reports ncclInProgress.
  absl::Status SettleNccl(ncclResult_t launched, absl::Time deadline, const std::string& what);
  absl::Status Fail(absl::Status status);
  absl::Status ReserveScratch(size_t bytes);
  std::string Who() const;

  Communicator& job_;
  NodeLayout layout_;
  int device_ = 0;
  ncclComm_t nccl_ = nullptr;
  cudaEvent_t done_ = nullptr;
  // Padded copy for counts that are not a multiple of G.
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  // Node 0 hosts its group's coordinator; declared before the communicator that talks to it,
  // so that it is destroyed after it.
  std::unique_ptr<CoordinatorServer> cross_node_coordinator_;
  std::unique_ptr<Communicator> own_cross_node_;
  Communicator* cross_node_ = nullptr;
  absl::Status broken_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_CUDA_HIERARCHICAL_ALLREDUCE_H_
