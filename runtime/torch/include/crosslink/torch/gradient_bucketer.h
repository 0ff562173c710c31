// GradientBucketer: DDP-style gradient synchronisation for the libtorch C++ frontend. It overlaps
// the allreduce of gradients with the rest of backward, which matters over crosslinks whose
// latency is milliseconds: the last layers' gradients (ready first) travel while the first
// layers' are still being computed.
//
// How: parameters (those that require grad) are packed, in reverse registration order (the order
// backward produces their gradients), into buckets of at most options.bucket_bytes (one dtype and
// device per bucket; a parameter larger than the cap gets a bucket of its own). A gradient hook
// on every parameter copies its gradient into the bucket's flat buffer and marks it ready; when a
// bucket is full it is launched as an asynchronous sum-allreduce on the shared TensorCollectives,
// in bucket order (bucket k never launches before bucket k-1, so every rank issues the same
// sequence of collectives whatever order its hooks fire in). FinishSync() launches the buckets
// not yet launched (a parameter that got no gradient this step counts as a zero gradient, so a
// rank that skipped a branch still takes part), waits for all of them, divides each by the
// number of contributors the collective reports, and writes the result into every parameter's
// .grad().
//
// Contract per step: zero (or reset) the gradients, run one backward, call FinishSync() on every
// rank. Afterwards .grad() holds the average over contributing ranks of that backward's
// gradients (accumulating several local backwards before one FinishSync is not supported: a
// second gradient for a parameter before FinishSync is an error). Every rank must build the
// bucketer over the same parameters (same shapes, dtypes, order) with the same options.
//
// Elastic jobs (elastic_trainer.h): a bucket whose allreduce a rank's death hits fails with
// kAborted (FinishSync returns it; the step is to be dropped on every survivor), the buckets
// after it fail at once, and the next step's buckets run among the live ranks, the average
// dividing by their number (the contributors the collectives report).
//
// Thread-safety: hooks may fire on autograd's threads; FinishSync() is called from the training
// thread after backward returned. Ownership: holds references to the parameters and their
// hooks until destroyed (the hooks are removed then); the bucketer must outlive every backward
// it observes.
#ifndef CROSSLINK_TORCH_GRADIENT_BUCKETER_H_
#define CROSSLINK_TORCH_GRADIENT_BUCKETER_H_

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/torch/tensor_collectives.h"

namespace crosslink::torch {

struct GradientBucketerOptions {
  // Bucket capacity. 25 MiB is DDP's default: large enough that the per-collective latency
  // (milliseconds on a crosslink) is amortised, small enough that the first bucket launches
  // early in backward.
  size_t bucket_bytes = size_t{25} << 20;
  // Options of each bucket's allreduce (its timeout bounds FinishSync's wait too).
  runtime::CollectiveOptions collective;
};

class GradientBucketer {
 public:
  // Builds the buckets and registers the hooks. kInvalidArgument when a parameter that requires
  // grad is unsupported by the collectives (dtype, layout, device) or bucket_bytes is 0;
  // kInvalidArgument when no parameter requires grad.
  static absl::StatusOr<std::unique_ptr<GradientBucketer>> Create(
      std::shared_ptr<TensorCollectives> collectives, std::vector<at::Tensor> parameters,
      GradientBucketerOptions options = {});
  ~GradientBucketer();
  GradientBucketer(const GradientBucketer&) = delete;
  GradientBucketer& operator=(const GradientBucketer&) = delete;

  // Blocks until every bucket's allreduce finished or `deadline` passed, then writes the averaged
  // gradients into .grad() and resets for the next step. Errors: kDeadlineExceeded (the deadline
  // passed; the step's gradients are unspecified and the ranks may be out of step), the
  // collectives' codes (communicator.h), kFailedPrecondition (a parameter got two gradients in
  // one step), kInvalidArgument (a gradient that is not dense or has the wrong element count).
  // Every rank must call it once per step.
  absl::Status FinishSync(absl::Time deadline);

  // For inspection and tests: the parameter indices (into Create's list) of each bucket, in
  // launch order; and the contributors the last FinishSync divided by.
  std::vector<std::vector<size_t>> bucket_parameters() const;
  int last_contributors() const;
  // Buckets launched so far in this step (before FinishSync: those that filled during backward).
  size_t buckets_launched() const;

 private:
  struct Bucket;
  struct Slot {  // one parameter
    at::Tensor parameter;
    size_t index = 0;  // in Create's list
    size_t bucket = 0;
    int64_t offset = 0;  // elements into the bucket's flat buffer
    bool ready = false;
    unsigned hook = 0;
  };

  GradientBucketer(std::shared_ptr<TensorCollectives> collectives, GradientBucketerOptions options);
  void OnGradient(size_t slot, const at::Tensor& gradient);
  // Launches, in order, every bucket from next_launch_ on that is full (or every one when `all`).
  void LaunchReadyBuckets(bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<TensorCollectives> collectives_;
  GradientBucketerOptions options_;
  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  size_t next_launch_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status step_error_ ABSL_GUARDED_BY(mu_);
  int last_contributors_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_GRADIENT_BUCKETER_H_
