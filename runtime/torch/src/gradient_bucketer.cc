#include "crosslink/torch/gradient_bucketer.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/zeros.h>
#include <c10/core/ScalarType.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/torch/tensor_checks.h"

namespace crosslink::torch {

struct GradientBucketer::Bucket {
  std::vector<size_t> slots;  // in launch (reverse registration) order
  at::Tensor flat;            // the gradients of `slots`, back to back
  size_t pending = 0;         // slots whose gradient has not arrived this step
  WorkHandle work;            // the allreduce, once launched this step
};

GradientBucketer::GradientBucketer(std::shared_ptr<TensorCollectives> collectives,
                                   GradientBucketerOptions options)
    : collectives_(std::move(collectives)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<GradientBucketer>> GradientBucketer::Create(
    std::shared_ptr<TensorCollectives> collectives, std::vector<at::Tensor> parameters,
    GradientBucketerOptions options) {
  if (options.bucket_bytes == 0) {
    return absl::InvalidArgumentError("GradientBucketer: bucket_bytes must be positive");
  }
  std::unique_ptr<GradientBucketer> bucketer(
      new GradientBucketer(std::move(collectives), std::move(options)));
  absl::MutexLock lock(&bucketer->mu_);
  std::vector<Slot>& slots = bucketer->slots_;
  std::vector<Bucket>& buckets = bucketer->buckets_;
  std::vector<int64_t> bucket_elements;
  size_t bucket_bytes = 0;
  // Reverse registration order: backward reaches the last layers first.
  for (size_t k = parameters.size(); k-- > 0;) {
    const at::Tensor& parameter = parameters[k];
    if (!parameter.defined() || !parameter.requires_grad()) continue;
    const std::string what = absl::StrCat("parameter ", k);
    RETURN_IF_ERROR(DataTypeOf(parameter.scalar_type(), what).status());
    if (parameter.layout() != c10::kStrided || (!parameter.is_cpu() && !parameter.is_cuda())) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " is not a dense CPU or CUDA tensor (device ", parameter.device().str(), ")"));
    }
    const size_t bytes = static_cast<size_t>(parameter.numel()) * parameter.element_size();
    const bool fits = !buckets.empty() && bucket_bytes + bytes <= bucketer->options_.bucket_bytes;
    const bool same_kind =
        !buckets.empty() &&
        slots[buckets.back().slots.front()].parameter.scalar_type() == parameter.scalar_type() &&
        slots[buckets.back().slots.front()].parameter.device() == parameter.device();
    if (!fits || !same_kind) {
      buckets.emplace_back();
      bucket_elements.push_back(0);
      bucket_bytes = 0;
    }
    Slot slot;
    slot.parameter = parameter;
    slot.index = k;
    slot.bucket = buckets.size() - 1;
    slot.offset = bucket_elements.back();
    buckets.back().slots.push_back(slots.size());
    bucket_elements.back() += parameter.numel();
    bucket_bytes += bytes;
    slots.push_back(std::move(slot));
  }
  if (slots.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("GradientBucketer: none of the ",
                                                   parameters.size(), " parameters requires grad"));
  }
  for (size_t b = 0; b < buckets.size(); ++b) {
    const at::Tensor& first = slots[buckets[b].slots.front()].parameter;
    buckets[b].flat =
        at::zeros({bucket_elements[b]},
                  at::TensorOptions().dtype(first.scalar_type()).device(first.device()));
    buckets[b].pending = buckets[b].slots.size();
  }
  GradientBucketer* self = bucketer.get();
  for (size_t i = 0; i < slots.size(); ++i) {
    slots[i].hook = slots[i].parameter.register_hook(
        [self, i](const at::Tensor& gradient) { self->OnGradient(i, gradient); });
  }
  return bucketer;
}

GradientBucketer::~GradientBucketer() {
  absl::MutexLock lock(&mu_);
  for (const Slot& slot : slots_) slot.parameter.remove_hook(slot.hook);
  // Allreduces still in flight reference the flat buffers; the tensors keep those alive.
}

void GradientBucketer::OnGradient(size_t slot_index, const at::Tensor& gradient) {
  at::NoGradGuard no_grad;
  absl::MutexLock lock(&mu_);
  Slot& slot = slots_[slot_index];
  Bucket& bucket = buckets_[slot.bucket];
  if (slot.ready || bucket.work != nullptr) {
    if (step_error_.ok()) {
      step_error_ = absl::FailedPreconditionError(
          absl::StrCat("GradientBucketer on rank ", collectives_->rank(),
                       ": a second gradient for parameter ", slot.index,
                       " arrived before FinishSync; run one "
                       "backward per FinishSync"));
    }
    return;
  }
  if (gradient.layout() != c10::kStrided || gradient.numel() != slot.parameter.numel()) {
    if (step_error_.ok()) {
      step_error_ = absl::InvalidArgumentError(
          absl::StrCat("GradientBucketer on rank ", collectives_->rank(),
                       ": the gradient of parameter ", slot.index, " is not dense or has ",
                       gradient.numel(), " elements instead of ", slot.parameter.numel()));
    }
    return;
  }
  bucket.flat.narrow(0, slot.offset, gradient.numel()).view(gradient.sizes()).copy_(gradient);
  slot.ready = true;
  --bucket.pending;
  LaunchReadyBuckets(/*all=*/false);
}

void GradientBucketer::LaunchReadyBuckets(bool all) {
  while (next_launch_ < buckets_.size()) {
    Bucket& bucket = buckets_[next_launch_];
    if (bucket.pending > 0) {
      if (!all) return;
      // A parameter without a gradient this step contributes zeros, so the bucket still runs
      // (every rank must issue it) and the others' gradients are averaged as usual.
      for (size_t s : bucket.slots) {
        if (!slots_[s].ready)
          bucket.flat.narrow(0, slots_[s].offset, slots_[s].parameter.numel()).zero_();
      }
    }
    absl::StatusOr<WorkHandle> work =
        collectives_->AllreduceAsync(bucket.flat, collectives::ReduceOp::kSum, options_.collective);
    if (!work.ok()) {
      if (step_error_.ok()) step_error_ = work.status();
      return;
    }
    bucket.work = *std::move(work);
    ++next_launch_;
  }
}

absl::Status GradientBucketer::FinishSync(absl::Time deadline) {
  at::NoGradGuard no_grad;
  std::vector<WorkHandle> works;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    LaunchReadyBuckets(/*all=*/true);
    status = step_error_;
    for (const Bucket& bucket : buckets_) works.push_back(bucket.work);
  }
  // Wait outside the lock (a late hook of a misbehaving program must not deadlock with us), and
  // for every launched bucket even after an error: the next step reuses the flat buffers.
  for (const WorkHandle& work : works) {
    if (work == nullptr) continue;
    const absl::Status wait_status = work->Wait(deadline);
    if (status.ok()) status = wait_status;
  }
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    for (size_t b = 0; b < buckets_.size(); ++b) {
      Bucket& bucket = buckets_[b];
      const int contributors = works[b]->contributors();
      last_contributors_ = contributors;
      if (contributors > 1) bucket.flat.div_(contributors);
      for (size_t s : bucket.slots) {
        at::Tensor& parameter = slots_[s].parameter;
        at::Tensor average =
            bucket.flat.narrow(0, slots_[s].offset, parameter.numel()).view(parameter.sizes());
        if (parameter.grad().defined()) {
          parameter.mutable_grad().copy_(average);
        } else {
          parameter.mutable_grad() = average.clone();
        }
      }
    }
  }
  // Next step. After a failure the gradients are unspecified and the collectives fail from now
  // on anyway (communicator.h), so the state is reset either way.
  for (Slot& slot : slots_) slot.ready = false;
  for (Bucket& bucket : buckets_) {
    bucket.pending = bucket.slots.size();
    bucket.work = nullptr;
  }
  next_launch_ = 0;
  step_error_ = absl::OkStatus();
  return status;
}

std::vector<std::vector<size_t>> GradientBucketer::bucket_parameters() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::vector<size_t>> result;
  for (const Bucket& bucket : buckets_) {
    std::vector<size_t> indices;
    for (size_t s : bucket.slots) indices.push_back(slots_[s].index);
    result.push_back(std::move(indices));
  }
  return result;
}

size_t GradientBucketer::buckets_launched() const {
  absl::MutexLock lock(&mu_);
  return next_launch_;
}

int GradientBucketer::last_contributors() const {
  absl::MutexLock lock(&mu_);
  return last_contributors_;
}

}  // namespace crosslink::torch
