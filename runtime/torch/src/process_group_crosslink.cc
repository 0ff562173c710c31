#include "crosslink/torch/process_group_crosslink.h"

#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crosslink/torch/collective_error.h"

namespace crosslink::torch {
namespace {

using collectives::ReduceOp;

// The c10d Work of one Crosslink collective: completed from the collective queue's worker thread
// through c10d's own finish(), so wait(), isCompleted(), exception() keep c10d's semantics.
class CrosslinkWork : public ::c10d::Work {
 public:
  CrosslinkWork(int rank, ::c10d::OpType type, std::vector<at::Tensor> outputs)
      : ::c10d::Work(rank, type),
        outputs_(std::move(outputs)),
        future_(c10::make_intrusive<at::ivalue::Future>(
            c10::ListType::create(c10::TensorType::get()))) {}

  std::vector<at::Tensor> result() override { return outputs_; }
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }

  void Complete(const absl::Status& status) {
    std::exception_ptr error = ToExceptionPtr(status);
    // The future first, then wait(): as in ProcessGroupGloo, so that whoever returns from
    // wait() also finds the future complete. Future callbacks run here, on the worker thread:
    // they may issue collectives but must not wait on them.
    if (error) {
      future_->setError(error);
    } else {
      future_->markCompleted(c10::IValue(outputs_));
    }
    finish(error);
  }

 private:
  std::vector<at::Tensor> outputs_;
  c10::intrusive_ptr<at::ivalue::Future> future_;
};

const char* RedOpName(::c10d::ReduceOp::RedOpType op) {
  switch (op) {
    case ::c10d::ReduceOp::SUM:
      return "SUM";
    case ::c10d::ReduceOp::AVG:
      return "AVG";
    case ::c10d::ReduceOp::PRODUCT:
      return "PRODUCT";
    case ::c10d::ReduceOp::MIN:
      return "MIN";
    case ::c10d::ReduceOp::MAX:
      return "MAX";
    case ::c10d::ReduceOp::BAND:
      return "BAND";
    case ::c10d::ReduceOp::BOR:
      return "BOR";
    case ::c10d::ReduceOp::BXOR:
      return "BXOR";
    case ::c10d::ReduceOp::PREMUL_SUM:
      return "PREMUL_SUM";
    default:
      return "UNKNOWN";
  }
}

// SUM, AVG, MIN and MAX are the Communicator's ops; the others throw kInvalidArgument.
ReduceOp ToReduceOp(const ::c10d::ReduceOp& op, std::string_view collective) {
  switch (op.op_) {
    case ::c10d::ReduceOp::SUM:
      return ReduceOp::kSum;
    case ::c10d::ReduceOp::AVG:
      return ReduceOp::kAvg;
    case ::c10d::ReduceOp::MIN:
      return ReduceOp::kMin;
    case ::c10d::ReduceOp::MAX:
      return ReduceOp::kMax;
    default:
      throw CollectiveError(absl::InvalidArgumentError(absl::StrCat(
          "crosslink ", std::string(collective), ": ReduceOp ", RedOpName(op.op_),
          " is not supported by the crosslink backend (it supports SUM, AVG, MIN, MAX)")));
  }
}

void CheckListLength(size_t length, size_t expected, std::string_view what) {
  if (length == expected) return;
  throw CollectiveError(absl::InvalidArgumentError(absl::StrCat(
      "crosslink ", std::string(what), " has ", length, " tensors, expected ", expected)));
}

// Every tensor of a list matches `like` in dtype and element count (the flat buffer's blocks).
void CheckLike(const std::vector<at::Tensor>& tensors, const at::Tensor& like,
               std::string_view what) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].scalar_type() != like.scalar_type() || tensors[i].numel() != like.numel()) {
      throw CollectiveError(absl::InvalidArgumentError(
          absl::StrCat("crosslink ", std::string(what), "[", i, "] has ", tensors[i].numel(), " ",
                       c10::toString(tensors[i].scalar_type()), ", expected ", like.numel(), " ",
                       c10::toString(like.scalar_type()))));
    }
  }
}

}  // namespace

ProcessGroupCrosslink::ProcessGroupCrosslink(std::shared_ptr<TensorCollectives> collectives,
                                             absl::Duration default_timeout)
    : Base(collectives->rank(), collectives->world_size()), collectives_(std::move(collectives)) {
  options_.timeout = default_timeout;
}

ProcessGroupCrosslink::~ProcessGroupCrosslink() = default;

runtime::CollectiveOptions ProcessGroupCrosslink::OptionsFor(
    std::chrono::milliseconds timeout) const {
  runtime::CollectiveOptions options = this->options();
  if (timeout.count() >= 0) options.timeout = absl::FromChrono(timeout);
  return options;
}

absl::Status ProcessGroupCrosslink::set_options(const runtime::CollectiveOptions& options) {
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("crosslink group options: timeout must be "
                     "positive, got ",
                     absl::FormatDuration(options.timeout)));
  }
  if (options.min_participants < 0 || options.min_participants > getSize()) {
    return absl::InvalidArgumentError(
        absl::StrCat("crosslink group options: min_participants must be in [0, ", getSize(),
                     "], got ", options.min_participants));
  }
  if (options.error_feedback != nullptr) {
    return absl::InvalidArgumentError(
        "crosslink group options: error_feedback cannot be set for a whole group");
  }
  absl::MutexLock lock(&options_mu_);
  options_ = options;
  return absl::OkStatus();
}

runtime::CollectiveOptions ProcessGroupCrosslink::options() const {
  absl::MutexLock lock(&options_mu_);
  return options_;
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::Wrap(::c10d::OpType type,
                                                             absl::StatusOr<WorkHandle> work,
                                                             std::vector<at::Tensor> outputs,
                                                             std::function<void()> on_success) {
  ThrowIfError(work.status());
  auto c10d_work = c10::make_intrusive<CrosslinkWork>(getRank(), type, std::move(outputs));
  (*work)->AddDoneCallback(
      [c10d_work, on_success = std::move(on_success)](const absl::Status& status) {
        absl::Status final_status = status;
        if (final_status.ok() && on_success) {
          try {
            on_success();
          } catch (const std::exception& e) {
            final_status = absl::InternalError(
                absl::StrCat("copying the result into the output tensors failed: ", e.what()));
          }
        }
        c10d_work->Complete(final_status);
      });
  return c10d_work;
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::broadcast(
    std::vector<at::Tensor>& tensors, const ::c10d::BroadcastOptions& opts) {
  CheckListLength(tensors.size(), 1, "broadcast tensor list");
  return Wrap(::c10d::OpType::BROADCAST,
              collectives_->BroadcastAsync(tensors[0], static_cast<int>(opts.rootRank),
                                           OptionsFor(opts.timeout)),
              tensors);
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::allreduce(
    std::vector<at::Tensor>& tensors, const ::c10d::AllreduceOptions& opts) {
  CheckListLength(tensors.size(), 1, "allreduce tensor list");
  const ReduceOp op = ToReduceOp(opts.reduceOp, "allreduce");
  return Wrap(::c10d::OpType::ALLREDUCE,
              collectives_->AllreduceAsync(tensors[0], op, OptionsFor(opts.timeout)), tensors);
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::allgather(
    std::vector<std::vector<at::Tensor>>& output_tensors, std::vector<at::Tensor>& input_tensors,
    const ::c10d::AllgatherOptions& opts) {
  CheckListLength(input_tensors.size(), 1, "allgather input list");
  CheckListLength(output_tensors.size(), 1, "allgather output list of lists");
  std::vector<at::Tensor> outputs = output_tensors[0];
  CheckListLength(outputs.size(), static_cast<size_t>(getSize()), "allgather output list");
  const at::Tensor& input = input_tensors[0];
  CheckLike(outputs, input, "allgather output");
  at::Tensor flat = at::empty({input.numel() * getSize()}, input.options());
  return Wrap(
      ::c10d::OpType::ALLGATHER,
      collectives_->AllgatherAsync(input, flat, OptionsFor(opts.timeout)), outputs,
      [flat, outputs]() mutable {
        const int64_t n = flat.numel() / static_cast<int64_t>(outputs.size());
        for (size_t r = 0; r < outputs.size(); ++r) {
          outputs[r].copy_(flat.narrow(0, static_cast<int64_t>(r) * n, n).view(outputs[r].sizes()));
        }
      });
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::_allgather_base(
    at::Tensor& output_buffer, at::Tensor& input_buffer, const ::c10d::AllgatherOptions& opts) {
  return Wrap(::c10d::OpType::_ALLGATHER_BASE,
              collectives_->AllgatherAsync(input_buffer, output_buffer, OptionsFor(opts.timeout)),
              {output_buffer});
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::reduce_scatter(
    std::vector<at::Tensor>& output_tensors, std::vector<std::vector<at::Tensor>>& input_tensors,
    const ::c10d::ReduceScatterOptions& opts) {
  CheckListLength(output_tensors.size(), 1, "reduce_scatter output list");
  CheckListLength(input_tensors.size(), 1, "reduce_scatter input list of lists");
  const std::vector<at::Tensor>& inputs = input_tensors[0];
  CheckListLength(inputs.size(), static_cast<size_t>(getSize()), "reduce_scatter input list");
  CheckLike(inputs, output_tensors[0], "reduce_scatter input");
  const ReduceOp op = ToReduceOp(opts.reduceOp, "reduce_scatter");
  std::vector<at::Tensor> flat_parts;
  flat_parts.reserve(inputs.size());
  for (const at::Tensor& input : inputs) flat_parts.push_back(input.reshape({-1}));
  return Wrap(::c10d::OpType::REDUCE_SCATTER,
              collectives_->ReduceScatterAsync(at::cat(flat_parts), output_tensors[0], op,
                                               OptionsFor(opts.timeout)),
              output_tensors);
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::_reduce_scatter_base(
    at::Tensor& output_buffer, at::Tensor& input_buffer, const ::c10d::ReduceScatterOptions& opts) {
  const ReduceOp op = ToReduceOp(opts.reduceOp, "_reduce_scatter_base");
  return Wrap(
      ::c10d::OpType::_REDUCE_SCATTER_BASE,
      collectives_->ReduceScatterAsync(input_buffer, output_buffer, op, OptionsFor(opts.timeout)),
      {output_buffer});
}

namespace {

// torch's split sizes count rows of dimension 0; the Communicator counts elements. Empty sizes
// stay empty (even blocks).
std::vector<size_t> SplitElements(const std::vector<int64_t>& split_sizes, const at::Tensor& tensor,
                                  std::string_view what) {
  std::vector<size_t> counts;
  if (split_sizes.empty()) return counts;
  if (tensor.dim() == 0) {
    throw CollectiveError(absl::InvalidArgumentError(absl::StrCat(
        "crosslink alltoall_base: ", std::string(what), " is a scalar; split sizes need a dim 0")));
  }
  const int64_t row = tensor.size(0) == 0 ? 0 : tensor.numel() / tensor.size(0);
  for (size_t i = 0; i < split_sizes.size(); ++i) {
    if (split_sizes[i] < 0) {
      throw CollectiveError(absl::InvalidArgumentError(
          absl::StrCat("crosslink alltoall_base: ", std::string(what), " split size [", i, "] is ",
                       split_sizes[i], ", must not be negative")));
    }
    counts.push_back(static_cast<size_t>(split_sizes[i]) * static_cast<size_t>(row));
  }
  return counts;
}

}  // namespace

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::alltoall_base(
    at::Tensor& output_buffer, at::Tensor& input_buffer, std::vector<int64_t>& output_split_sizes,
    std::vector<int64_t>& input_split_sizes, const ::c10d::AllToAllOptions& opts) {
  std::vector<size_t> send_counts = SplitElements(input_split_sizes, input_buffer, "input");
  std::vector<size_t> recv_counts = SplitElements(output_split_sizes, output_buffer, "output");
  // As gloo: without split sizes dimension 0 is cut evenly, so it must divide by the world size.
  auto check_even = [&](const at::Tensor& t, const std::vector<int64_t>& sizes, const char* what) {
    if (!sizes.empty() || (t.dim() > 0 && t.size(0) % getSize() == 0)) return;
    throw CollectiveError(absl::InvalidArgumentError(
        absl::StrCat("crosslink alltoall_base: ", what, " has ", t.dim() > 0 ? t.size(0) : 0,
                     " rows in dimension 0, which the world size ", getSize(),
                     " does not divide; give split sizes for uneven blocks")));
  };
  check_even(input_buffer, input_split_sizes, "input");
  check_even(output_buffer, output_split_sizes, "output");
  return Wrap(::c10d::OpType::ALLTOALL_BASE,
              collectives_->AlltoallAsync(input_buffer, output_buffer, std::move(send_counts),
                                          std::move(recv_counts), OptionsFor(opts.timeout)),
              {output_buffer});
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::alltoall(
    std::vector<at::Tensor>& output_tensors, std::vector<at::Tensor>& input_tensors,
    const ::c10d::AllToAllOptions& opts) {
  const size_t n = static_cast<size_t>(getSize());
  CheckListLength(input_tensors.size(), n, "alltoall input list");
  CheckListLength(output_tensors.size(), n, "alltoall output list");
  std::vector<size_t> send_counts, recv_counts;
  std::vector<at::Tensor> flat_inputs;
  for (size_t j = 0; j < n; ++j) {
    for (const auto& [list, what] :
         {std::pair{&input_tensors, "input"}, std::pair{&output_tensors, "output"}}) {
      const at::Tensor& t = (*list)[j];
      if (!t.defined() || t.scalar_type() != input_tensors[0].scalar_type()) {
        throw CollectiveError(absl::InvalidArgumentError(
            absl::StrCat("crosslink alltoall ", what, "[", j, "] has dtype ",
                         t.defined() ? c10::toString(t.scalar_type()) : "undefined",
                         ", input[0] has ", c10::toString(input_tensors[0].scalar_type()))));
      }
    }
    send_counts.push_back(static_cast<size_t>(input_tensors[j].numel()));
    recv_counts.push_back(static_cast<size_t>(output_tensors[j].numel()));
    flat_inputs.push_back(input_tensors[j].reshape({-1}));
  }
  int64_t total = 0;
  for (size_t c : recv_counts) total += static_cast<int64_t>(c);
  at::Tensor flat_output = at::empty({total}, input_tensors[0].options().device(c10::kCPU));
  std::vector<at::Tensor> outputs = output_tensors;
  return Wrap(::c10d::OpType::ALLTOALL,
              collectives_->AlltoallAsync(at::cat(flat_inputs), flat_output, std::move(send_counts),
                                          recv_counts, OptionsFor(opts.timeout)),
              outputs, [flat_output, outputs, recv_counts]() mutable {
                int64_t offset = 0;
                for (size_t j = 0; j < outputs.size(); ++j) {
                  const auto m = static_cast<int64_t>(recv_counts[j]);
                  outputs[j].copy_(flat_output.narrow(0, offset, m).view(outputs[j].sizes()));
                  offset += m;
                }
              });
}

c10::intrusive_ptr<::c10d::Work> ProcessGroupCrosslink::barrier(
    const ::c10d::BarrierOptions& opts) {
  return Wrap(::c10d::OpType::BARRIER, collectives_->BarrierAsync(OptionsFor(opts.timeout)), {});
}

}  // namespace crosslink::torch
