// ProcessGroupCrosslink: a c10d backend over a Crosslink communicator, so that code written against
// torch.distributed's C++ API (c10d::ProcessGroup in torch 1.x, c10d::Backend in torch 2.x) runs
// its collectives over the crosslinks.
//
// Supported: allreduce (SUM, AVG, MIN, MAX), broadcast, allgather and _allgather_base,
// reduce_scatter and _reduce_scatter_base (SUM, AVG, MIN, MAX), alltoall_base
// (all_to_all_single, even or with split sizes along dimension 0) and alltoall (all_to_all, one
// tensor per peer, any sizes), barrier; one tensor per call otherwise (one device per process, as
// with DDP today). Everything else keeps c10d's "does not support"
// error. Collectives run on the TensorCollectives' worker thread in issue order and return a
// c10d::Work whose wait() blocks, rethrows a failure, and whose getFuture() completes with the
// output tensors (what DDP comm hooks chain on) before wait() returns. Future callbacks run on the
// worker thread: they may issue collectives but must not wait on them.
//
// Errors: argument errors (an unsupported ReduceOp such as PRODUCT, a dtype other than float32,
// float64, float16, bfloat16, int32, int64, a non-contiguous tensor, wrong sizes or list lengths)
// throw CollectiveError (collective_error.h; a std::runtime_error carrying the absl code
// kInvalidArgument) from the issuing call. Collective failures (communicator.h's codes, or
// kInternal when copying a result into the output tensors throws) are rethrown as
// CollectiveError by Work::wait(). wait(timeout) with a timeout that passes throws
// c10d's own "Operation timed out!" c10::Error while the collective keeps running.
//
// Options: every collective runs with the group's CollectiveOptions (set_options: contact_aware,
// compression, min_participants, algorithm, ...; the Python package sets them per group or for a
// block of calls). Timeouts: opts.timeout of each call when set, else the group's options' timeout
// (the default_timeout given at construction until set_options changes it).
//
// Elastic jobs (CROSSLINK_ELASTIC=1; elastic_trainer.h runs the loop): a collective that a rank's
// death hits fails once, its wait() throwing CollectiveError with code() kAborted naming the
// dead rank; the group stays usable, and the next collectives (after the trainer's Quorum) run
// among the live ranks: AVG divides by the live count, getSize() stays the job's world size,
// allgather and reduce_scatter (laid out by rank) fail with kFailedPrecondition once a rank has
// died, a broadcast from a dead root with kInvalidArgument. A collective issued after the
// membership moved past the step's quorum fails with kAborted without running
// (Communicator::Quorum).
//
// Thread-safety: as c10d requires, calls from one thread; the issue order is the wire order.
// Ownership: shares the TensorCollectives (and so the Communicator) with its other users.
#ifndef CROSSLINK_TORCH_PROCESS_GROUP_CROSSLINK_H_
#define CROSSLINK_TORCH_PROCESS_GROUP_CROSSLINK_H_

#include <torch/version.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/torch/tensor_collectives.h"

// Torch 2 moved backends under c10d::Backend (a ProcessGroup now dispatches to backends); torch 1
// subclasses ProcessGroup itself. The virtual methods overridden here have the same signatures in
// both.
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#define CROSSLINK_C10D_BASE ::c10d::Backend
#else
#define CROSSLINK_C10D_BASE ::c10d::ProcessGroup
#endif

namespace crosslink::torch {

class ProcessGroupCrosslink : public CROSSLINK_C10D_BASE {
 public:
  using Base = CROSSLINK_C10D_BASE;

  // `collectives` must be the one TensorCollectives of its communicator (tensor_collectives.h).
  explicit ProcessGroupCrosslink(std::shared_ptr<TensorCollectives> collectives,
                                 absl::Duration default_timeout = absl::Minutes(5));
  ~ProcessGroupCrosslink() override;

  const std::string getBackendName() const override { return "crosslink"; }

  c10::intrusive_ptr<::c10d::Work> broadcast(
      std::vector<at::Tensor>& tensors,
      const ::c10d::BroadcastOptions& opts = ::c10d::BroadcastOptions()) override;
  c10::intrusive_ptr<::c10d::Work> allreduce(
      std::vector<at::Tensor>& tensors,
      const ::c10d::AllreduceOptions& opts = ::c10d::AllreduceOptions()) override;
  c10::intrusive_ptr<::c10d::Work> allgather(
      std::vector<std::vector<at::Tensor>>& output_tensors, std::vector<at::Tensor>& input_tensors,
      const ::c10d::AllgatherOptions& opts = ::c10d::AllgatherOptions()) override;
  c10::intrusive_ptr<::c10d::Work> _allgather_base(
      at::Tensor& output_buffer, at::Tensor& input_buffer,
      const ::c10d::AllgatherOptions& opts = ::c10d::AllgatherOptions()) override;
  c10::intrusive_ptr<::c10d::Work> reduce_scatter(
      std::vector<at::Tensor>& output_tensors, std::vector<std::vector<at::Tensor>>& input_tensors,
      const ::c10d::ReduceScatterOptions& opts = ::c10d::ReduceScatterOptions()) override;
  c10::intrusive_ptr<::c10d::Work> _reduce_scatter_base(
      at::Tensor& output_buffer, at::Tensor& input_buffer,
      const ::c10d::ReduceScatterOptions& opts = ::c10d::ReduceScatterOptions()) override;
  c10::intrusive_ptr<::c10d::Work> alltoall_base(
      at::Tensor& output_buffer, at::Tensor& input_buffer, std::vector<int64_t>& output_split_sizes,
      std::vector<int64_t>& input_split_sizes,
      const ::c10d::AllToAllOptions& opts = ::c10d::AllToAllOptions()) override;
  c10::intrusive_ptr<::c10d::Work> alltoall(
      std::vector<at::Tensor>& output_tensors, std::vector<at::Tensor>& input_tensors,
      const ::c10d::AllToAllOptions& opts = ::c10d::AllToAllOptions()) override;
  c10::intrusive_ptr<::c10d::Work> barrier(
      const ::c10d::BarrierOptions& opts = ::c10d::BarrierOptions()) override;

  TensorCollectives& collectives() { return *collectives_; }
  std::shared_ptr<TensorCollectives> shared_collectives() const { return collectives_; }

  // The options every later collective of this group is issued with (thread-safe; a collective
  // takes them when it is issued). kInvalidArgument for a non-positive timeout or a negative
  // min_participants; error_feedback must be null (the group cannot own per-tensor residuals).
  absl::Status set_options(const runtime::CollectiveOptions& options);
  runtime::CollectiveOptions options() const;

 private:
  // Turns a queued collective into a c10d::Work; `on_success` runs on the worker thread before
  // the Work completes (copies a flat result into the caller's tensors). Throws CollectiveError
  // when `work` is an argument error.
  c10::intrusive_ptr<::c10d::Work> Wrap(::c10d::OpType type, absl::StatusOr<WorkHandle> work,
                                        std::vector<at::Tensor> outputs,
                                        std::function<void()> on_success = nullptr);
  runtime::CollectiveOptions OptionsFor(std::chrono::milliseconds timeout) const;

  std::shared_ptr<TensorCollectives> collectives_;
  mutable absl::Mutex options_mu_;
  runtime::CollectiveOptions options_ ABSL_GUARDED_BY(options_mu_);
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_PROCESS_GROUP_CROSSLINK_H_
