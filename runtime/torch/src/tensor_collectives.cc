#include "crosslink/torch/tensor_collectives.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/core/ScalarType.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/torch/tensor_checks.h"
#if CROSSLINK_RUNTIME_CUDA && CROSSLINK_TORCH_CUDA
// Both the runtime (device_collectives.h) and libtorch have CUDA: CUDA tensors go to the
// Communicator as they are, and it stages them itself.
#include <c10/cuda/CUDAStream.h>
#define CROSSLINK_TORCH_DEVICE_BUFFERS 1
#endif

namespace crosslink::torch {
namespace {

using collectives::DataType;
using collectives::ReduceOp;
using runtime::CollectiveOptions;

// The buffer the Communicator borrows for `tensor`: the tensor itself on the CPU; for a CUDA
// tensor, the tensor itself where the runtime takes device buffers (once the caller's current
// stream has finished writing it, since the Communicator's copies follow only the legacy default
// stream), else a host copy (taken now, in the caller's stream order).
at::Tensor HostBuffer(const at::Tensor& tensor) {
  if (tensor.is_cpu()) return tensor;
#if CROSSLINK_TORCH_DEVICE_BUFFERS
  c10::cuda::getCurrentCUDAStream(tensor.device().index()).synchronize();
  return tensor;
#else
  return tensor.to(c10::Device(c10::kCPU));
#endif
}

// Copies a staged result back into a device tensor; nothing to do for a CPU tensor.
void CopyBack(at::Tensor& tensor, const at::Tensor& host) {
  if (!host.is_same(tensor)) tensor.copy_(host);
}

std::string Describe(std::string_view what, const at::Tensor& tensor, int rank) {
  return absl::StrCat(std::string(what), " of ", tensor.numel(), " ",
                      c10::toString(tensor.scalar_type()), " on rank ", rank);
}

absl::Status CheckRank(int root, int world_size, std::string_view what) {
  if (root >= 0 && root < world_size) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), " root rank ", root, " is outside the world of ", world_size, " ranks"));
}

absl::Status CheckOp(ReduceOp op, std::string_view what) {
  if (collectives::IsValidReduceOp(op)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), " got reduce op ", static_cast<int>(op), ", not sum, avg, min or max"));
}

}  // namespace

TensorCollectives::TensorCollectives(std::shared_ptr<runtime::Communicator> communicator)
    : communicator_(std::move(communicator)),
      queue_(absl::StrCat("the collective queue of rank ", communicator_->rank())) {}

TensorCollectives::~TensorCollectives() = default;

void TensorCollectives::SetLiveRanks(std::vector<int> live_ranks) {
  absl::MutexLock lock(&quorum_mu_);
  live_ranks_ = std::move(live_ranks);
}

int TensorCollectives::decider() const {
  absl::MutexLock lock(&quorum_mu_);
  return live_ranks_.empty() ? 0 : live_ranks_.front();
}

std::vector<int> TensorCollectives::live_ranks() const {
  absl::MutexLock lock(&quorum_mu_);
  if (!live_ranks_.empty()) return live_ranks_;
  std::vector<int> all(world_size());
  for (int r = 0; r < world_size(); ++r) all[r] = r;
  return all;
}

int TensorCollectives::Contributors() const {
  const int participants = communicator_->last_stats().participants;
  return participants > 0 ? participants : communicator_->world_size();
}

absl::StatusOr<WorkHandle> TensorCollectives::AllreduceAsync(at::Tensor tensor, ReduceOp op,
                                                             const CollectiveOptions& options) {
  ASSIGN_OR_RETURN(const DataType type, CheckCollectiveTensor(tensor, "allreduce tensor"));
  RETURN_IF_ERROR(CheckOp(op, "allreduce"));
  at::Tensor host = HostBuffer(tensor);
  return queue_.Enqueue(
      Describe(absl::StrCat("allreduce(", std::string(collectives::ReduceOpName(op)), ")"), tensor,
               rank()),
      [this, tensor, host, type, op, options]() mutable -> absl::StatusOr<int> {
        RETURN_IF_ERROR(communicator_->Allreduce(host.data_ptr(), static_cast<size_t>(host.numel()),
                                                 type, op, options));
        CopyBack(tensor, host);
        return Contributors();
      });
}

absl::StatusOr<WorkHandle> TensorCollectives::BroadcastAsync(at::Tensor tensor, int root,
                                                             const CollectiveOptions& options) {
  ASSIGN_OR_RETURN(const DataType type, CheckCollectiveTensor(tensor, "broadcast tensor"));
  RETURN_IF_ERROR(CheckRank(root, world_size(), "broadcast"));
  at::Tensor host = HostBuffer(tensor);
  return queue_.Enqueue(
      Describe(absl::StrCat("broadcast from rank ", root), tensor, rank()),
      [this, tensor, host, type, root, options]() mutable -> absl::StatusOr<int> {
        RETURN_IF_ERROR(communicator_->Broadcast(host.data_ptr(), static_cast<size_t>(host.numel()),
                                                 type, root, options));
        CopyBack(tensor, host);
        return Contributors();
      });
}

absl::StatusOr<WorkHandle> TensorCollectives::AllgatherAsync(at::Tensor input, at::Tensor output,
                                                             const CollectiveOptions& options) {
  ASSIGN_OR_RETURN(const DataType type, CheckCollectiveTensorPair(input, output, "allgather"));
  RETURN_IF_ERROR(CheckElementCount(
      output, "allgather output", input.numel() * world_size(),
      absl::StrCat("world size ", world_size(), " x ", input.numel(), " input elements")));
  const at::Tensor host_input = HostBuffer(input);
  // The output's old contents do not matter: a CUDA output gets a fresh host buffer.
#if CROSSLINK_TORCH_DEVICE_BUFFERS
  at::Tensor host_output = output;
#else
  at::Tensor host_output = output.is_cpu() ? output : at::empty_like(output, c10::kCPU);
#endif
  return queue_.Enqueue(
      Describe("allgather", input, rank()),
      [this, output, host_input, host_output, type, options]() mutable -> absl::StatusOr<int> {
        RETURN_IF_ERROR(communicator_->Allgather(host_input.data_ptr(), host_output.data_ptr(),
                                                 static_cast<size_t>(host_input.numel()), type,
                                                 options));
        CopyBack(output, host_output);
        return Contributors();
      });
}

absl::StatusOr<WorkHandle> TensorCollectives::ReduceScatterAsync(at::Tensor input,
                                                                 at::Tensor output, ReduceOp op,
                                                                 const CollectiveOptions& options) {
  ASSIGN_OR_RETURN(const DataType type, CheckCollectiveTensorPair(input, output, "reduce_scatter"));
  RETURN_IF_ERROR(CheckOp(op, "reduce_scatter"));
  RETURN_IF_ERROR(CheckElementCount(
      input, "reduce_scatter input", output.numel() * world_size(),
      absl::StrCat("world size ", world_size(), " x ", output.numel(), " output elements")));
  // The Communicator reduces in place and leaves partial sums outside this rank's block, so it
  // works on a private host copy: the caller's input stays as it was.
  at::Tensor scratch =
      input.to(c10::Device(c10::kCPU), /*non_blocking=*/false, /*copy=*/true).view({-1});
  return queue_.Enqueue(
      Describe(absl::StrCat("reduce_scatter(", std::string(collectives::ReduceOpName(op)), ")"),
               input, rank()),
      [this, output, scratch, type, op, options]() mutable -> absl::StatusOr<int> {
        RETURN_IF_ERROR(communicator_->ReduceScatter(
            scratch.data_ptr(), static_cast<size_t>(scratch.numel()), type, op, options));
        // With count = world_size * m every block holds m elements (plan.h's BlockRange), so
        // this rank's block starts at rank * m.
        const int64_t m = output.numel();
        output.copy_(scratch.narrow(0, rank() * m, m).view(output.sizes()));
        return Contributors();
      });
}

namespace {

// The element counts of an alltoall's blocks: `counts` when given (world_size entries summing to
// `total`), else `total` cut evenly.
absl::StatusOr<std::vector<size_t>> AlltoallBlocks(std::vector<size_t> counts, int64_t total,
                                                   int world_size, std::string_view what) {
  const size_t n = static_cast<size_t>(world_size);
  if (counts.empty()) {
    if (total % world_size != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "alltoall ", std::string(what), " has ", total, " elements, which the world size ",
          world_size, " does not divide (give split sizes for uneven blocks)"));
    }
    return std::vector<size_t>(n, static_cast<size_t>(total / world_size));
  }
  if (counts.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("alltoall ", std::string(what), " has ",
                                                   counts.size(), " split sizes for world size ",
                                                   world_size));
  }
  size_t sum = 0;
  for (size_t c : counts) {
    if (c > static_cast<size_t>(total) - sum) {
      return absl::InvalidArgumentError(absl::StrCat("alltoall ", std::string(what),
                                                     " split sizes add up to more than its ", total,
                                                     " elements"));
    }
    sum += c;
  }
  if (sum != static_cast<size_t>(total)) {
    return absl::InvalidArgumentError(absl::StrCat("alltoall ", std::string(what),
                                                   " split sizes add up to ", sum, ", it has ",
                                                   total, " elements"));
  }
  return counts;
}

bool SharesMemory(const at::Tensor& a, const at::Tensor& b) {
  if (a.device() != b.device() || a.numel() == 0 || b.numel() == 0) return false;
  const auto* a0 = static_cast<const char*>(a.data_ptr());
  const auto* b0 = static_cast<const char*>(b.data_ptr());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace

absl::StatusOr<WorkHandle> TensorCollectives::AlltoallAsync(at::Tensor input, at::Tensor output,
                                                            std::vector<size_t> send_counts,
                                                            std::vector<size_t> recv_counts,
                                                            const CollectiveOptions& options) {
  ASSIGN_OR_RETURN(const DataType type, CheckCollectiveTensorPair(input, output, "alltoall"));
  const bool even = send_counts.empty() && recv_counts.empty();
  if (even) {
    RETURN_IF_ERROR(CheckElementCount(output, "alltoall output", input.numel(),
                                      "the input's size (even splits)"));
  }
  ASSIGN_OR_RETURN(send_counts,
                   AlltoallBlocks(std::move(send_counts), input.numel(), world_size(), "input"));
  ASSIGN_OR_RETURN(recv_counts,
                   AlltoallBlocks(std::move(recv_counts), output.numel(), world_size(), "output"));
  // The Communicator reads host memory that no receive writes: a CUDA tensor, or an input that
  // shares memory with the output (an in-place call), is copied first, in the caller's order.
  const at::Tensor host_input =
      input.is_cpu() && !SharesMemory(input, output)
          ? input
          : input.to(c10::Device(c10::kCPU), /*non_blocking=*/false, /*copy=*/true);
  // The output's old contents do not matter: a CUDA output gets a fresh host buffer.
  at::Tensor host_output = output.is_cpu() ? output : at::empty_like(output, c10::kCPU);
  return queue_.Enqueue(
      Describe("alltoall", input, rank()),
      [this, output, host_input, host_output, type, even, send_counts = std::move(send_counts),
       recv_counts = std::move(recv_counts), options]() mutable -> absl::StatusOr<int> {
        if (even) {
          RETURN_IF_ERROR(communicator_->Alltoall(
              host_input.data_ptr(), host_output.data_ptr(),
              static_cast<size_t>(host_input.numel() / world_size()), type, options));
        } else {
          RETURN_IF_ERROR(communicator_->Alltoall(host_input.data_ptr(), send_counts,
                                                  host_output.data_ptr(), recv_counts, type,
                                                  options));
        }
        CopyBack(output, host_output);
        return Contributors();
      });
}

absl::StatusOr<WorkHandle> TensorCollectives::BarrierAsync(const CollectiveOptions& options) {
  return queue_.Enqueue(absl::StrCat("barrier on rank ", rank()),
                        [this, options]() -> absl::StatusOr<int> {
                          RETURN_IF_ERROR(communicator_->Barrier(options));
                          return Contributors();
                        });
}

namespace {

absl::Status WaitFor(absl::StatusOr<WorkHandle> work) {
  if (!work.ok()) return work.status();
  return (*work)->Wait(absl::InfiniteFuture());
}

}  // namespace

absl::Status TensorCollectives::Allreduce(at::Tensor tensor, ReduceOp op,
                                          const CollectiveOptions& options) {
  return WaitFor(AllreduceAsync(std::move(tensor), op, options));
}

absl::Status TensorCollectives::Broadcast(at::Tensor tensor, int root,
                                          const CollectiveOptions& options) {
  return WaitFor(BroadcastAsync(std::move(tensor), root, options));
}

absl::Status TensorCollectives::Allgather(at::Tensor input, at::Tensor output,
                                          const CollectiveOptions& options) {
  return WaitFor(AllgatherAsync(std::move(input), std::move(output), options));
}

absl::Status TensorCollectives::ReduceScatter(at::Tensor input, at::Tensor output, ReduceOp op,
                                              const CollectiveOptions& options) {
  return WaitFor(ReduceScatterAsync(std::move(input), std::move(output), op, options));
}

absl::Status TensorCollectives::Alltoall(at::Tensor input, at::Tensor output,
                                         std::vector<size_t> send_counts,
                                         std::vector<size_t> recv_counts,
                                         const CollectiveOptions& options) {
  return WaitFor(AlltoallAsync(std::move(input), std::move(output), std::move(send_counts),
                               std::move(recv_counts), options));
}

absl::Status TensorCollectives::Barrier(const CollectiveOptions& options) {
  return WaitFor(BarrierAsync(options));
}

}  // namespace crosslink::torch
