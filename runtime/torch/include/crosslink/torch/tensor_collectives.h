// TensorCollectives: the Communicator's collectives on torch tensors, synchronous or as
// CollectiveWork handles that complete in the background.
//
// It owns a CollectiveQueue (collective_work.h): one worker thread per communicator runs the
// queued collectives in the order they were issued, which is the order every rank must issue
// them in (communicator.h's collective contract). Share one TensorCollectives between everything
// that issues collectives on a communicator (the c10d backend, the gradient bucketer, the
// training loop); two of them over one communicator would interleave their collectives in a
// different order on each rank.
//
// Tensors: dense, contiguous, CPU or CUDA, dtype Float, Double, Half, BFloat16, Int or Long
// (tensor_checks.h). CPU tensors are reduced in their own storage. CUDA tensors: when both the
// runtime and libtorch are built with CUDA, the issuing call synchronises the tensor's current
// stream and the Communicator works on device memory directly (device_collectives.h); otherwise
// the issuing call copies the tensor to host memory (values as of the call, in stream order) and
// the worker copies the result back before the work completes. ReduceScatter always reduces a
// private host copy of `input`. Argument errors (kInvalidArgument naming the tensor, dtype,
// layout, size, root or op) come back from the issuing call and nothing is queued; on such an
// error this rank does not take part, so the others fail at their deadlines: treat it as fatal.
//
// Async ownership: a queued collective holds references to its tensors until it completes; the
// caller must not read or write them before Wait() returns OK (as with c10d's Work).
// Sync calls are the async call plus Wait(InfiniteFuture()): they are bounded by the collective's
// own deadline (options.timeout / options.deadline, communicator.h). Their codes are those of
// communicator.h.
//
// Thread-safety: all methods are thread-safe; the order of calls is the order on the wire.
#ifndef CROSSLINK_TORCH_TENSOR_COLLECTIVES_H_
#define CROSSLINK_TORCH_TENSOR_COLLECTIVES_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/torch/collective_work.h"

namespace crosslink::torch {

using WorkHandle = std::shared_ptr<CollectiveWork>;

class TensorCollectives {
 public:
  explicit TensorCollectives(std::shared_ptr<runtime::Communicator> communicator);
  // Collectives not yet started fail with kFailedPrecondition; a running one is waited for.
  ~TensorCollectives();
  TensorCollectives(const TensorCollectives&) = delete;
  TensorCollectives& operator=(const TensorCollectives&) = delete;

  int rank() const { return communicator_->rank(); }
  int world_size() const { return communicator_->world_size(); }
  runtime::Communicator& communicator() { return *communicator_; }

  // In place: afterwards every rank's `tensor` holds op over the ranks' tensors. Same shape, dtype
  // and op on every rank.
  absl::StatusOr<WorkHandle> AllreduceAsync(at::Tensor tensor, collectives::ReduceOp op,
                                            const runtime::CollectiveOptions& options = {});
  // Afterwards every rank's `tensor` holds root's.
  absl::StatusOr<WorkHandle> BroadcastAsync(at::Tensor tensor, int root,
                                            const runtime::CollectiveOptions& options = {});
  // `output` (world_size x input.numel() elements, input's dtype, any shape) receives rank 0's
  // input, then rank 1's, ... `input` is only read.
  absl::StatusOr<WorkHandle> AllgatherAsync(at::Tensor input, at::Tensor output,
                                            const runtime::CollectiveOptions& options = {});
  // `input` holds world_size x output.numel() elements; afterwards rank r's `output` holds op
  // over the ranks' r-th slices of `input` (elements [r*m, (r+1)*m) for m = output.numel()).
  // `input` is only read (the reduction runs in a scratch copy).
  absl::StatusOr<WorkHandle> ReduceScatterAsync(at::Tensor input, at::Tensor output,
                                                collectives::ReduceOp op,
                                                const runtime::CollectiveOptions& options = {});
  // `input` is cut into world_size blocks in rank order, block j going to rank j; afterwards
  // `output`'s block j holds rank j's block for this rank. send_counts / recv_counts: elements
  // per block, world_size entries each, summing to input.numel() / output.numel(); both empty:
  // even blocks (input and output of one size, a multiple of the world size). Every dtype above;
  // input's and output's must match. `input` is only read (copied first when it shares memory
  // with `output`). CUDA tensors travel through host copies (Communicator::Alltoall takes host
  // memory). Rank a's send_counts[b] must equal rank b's recv_counts[a] (kInvalidArgument
  // otherwise, from the Work; see Communicator::Alltoall).
  absl::StatusOr<WorkHandle> AlltoallAsync(at::Tensor input, at::Tensor output,
                                           std::vector<size_t> send_counts,
                                           std::vector<size_t> recv_counts,
                                           const runtime::CollectiveOptions& options = {});
  absl::StatusOr<WorkHandle> BarrierAsync(const runtime::CollectiveOptions& options = {});

  absl::Status Allreduce(at::Tensor tensor, collectives::ReduceOp op,
                         const runtime::CollectiveOptions& options = {});
  absl::Status Broadcast(at::Tensor tensor, int root,
                         const runtime::CollectiveOptions& options = {});
  absl::Status Allgather(at::Tensor input, at::Tensor output,
                         const runtime::CollectiveOptions& options = {});
  absl::Status ReduceScatter(at::Tensor input, at::Tensor output, collectives::ReduceOp op,
                             const runtime::CollectiveOptions& options = {});
  absl::Status Alltoall(at::Tensor input, at::Tensor output, std::vector<size_t> send_counts = {},
                        std::vector<size_t> recv_counts = {},
                        const runtime::CollectiveOptions& options = {});
  absl::Status Barrier(const runtime::CollectiveOptions& options = {});

  // Elastic jobs (elastic_trainer.h sets them after every Communicator::Quorum): the step's live
  // ranks. (A collective that starts after the membership moved past the step's quorum fails
  // with kAborted without running: the Communicator checks that itself.)
  void SetLiveRanks(std::vector<int> live_ranks);
  // The rank that decides for the others (a broadcast's root): the quorum's lowest live rank,
  // 0 before any quorum.
  int decider() const;
  // The quorum's live ranks (every rank before any quorum).
  std::vector<int> live_ranks() const;

 private:
  // Ranks whose data the collective that just finished holds (the live ranks of an elastic job,
  // the contributors of a partial result): averaging code divides by this, never by world_size().
  // Read on the worker thread right after the collective, before the next one starts.
  int Contributors() const;
  std::shared_ptr<runtime::Communicator> communicator_;
  mutable absl::Mutex quorum_mu_;
  std::vector<int> live_ranks_ ABSL_GUARDED_BY(quorum_mu_);
  CollectiveQueue queue_;
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_TENSOR_COLLECTIVES_H_
