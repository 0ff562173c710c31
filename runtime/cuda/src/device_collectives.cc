#include "crosslink/runtime/cuda/device_collectives.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/cuda/cuda_status.h"
#include "crosslink/collectives/cuda/device_pointer.h"
#include "crosslink/collectives/cuda/staged_allreduce.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::runtime {
namespace {

using collectives::DataType;
using collectives::ReduceOp;
using collectives::cuda::CudaStatus;
using collectives::cuda::DeviceStagedAllreduce;

// Staging objects (streams, events, a pinned buffer) by device, lent to one collective at a time.
// Several communicators (a hierarchical allreduce's cross-node one beside the job's) may run
// collectives from different threads at once; each takes its own object, so the pool holds as
// many per device as ever ran at the same time. Never destroyed: freeing pinned memory during
// static destruction can run after the CUDA runtime has shut down.
class StagerPool {
 public:
  static StagerPool& Get() {
    static StagerPool* pool = new StagerPool();
    return *pool;
  }

  absl::StatusOr<std::unique_ptr<DeviceStagedAllreduce>> Acquire(int device) {
    {
      absl::MutexLock lock(&mu_);
      std::vector<std::unique_ptr<DeviceStagedAllreduce>>& free = free_[device];
      if (!free.empty()) {
        std::unique_ptr<DeviceStagedAllreduce> stager = std::move(free.back());
        free.pop_back();
        return stager;
      }
    }
    return DeviceStagedAllreduce::Create();  // on the current device, which is `device`
  }

  void Release(int device, std::unique_ptr<DeviceStagedAllreduce> stager) {
    absl::MutexLock lock(&mu_);
    free_[device].push_back(std::move(stager));
  }

 private:
  absl::Mutex mu_;
  std::map<int, std::vector<std::unique_ptr<DeviceStagedAllreduce>>> free_ ABSL_GUARDED_BY(mu_);
};

// Makes the buffer's device current for the call (streams and the staging object belong to
// one device) and restores the caller's afterwards.
class DeviceScope {
 public:
  static absl::StatusOr<DeviceScope> For(const void* p, const std::string& what) {
    cudaPointerAttributes attributes{};
    RETURN_IF_ERROR(CudaStatus(cudaPointerGetAttributes(&attributes, p),
                               absl::StrCat(what, ": cudaPointerGetAttributes")));
    DeviceScope scope;
    RETURN_IF_ERROR(
        CudaStatus(cudaGetDevice(&scope.previous_), absl::StrCat(what, ": cudaGetDevice")));
    scope.device_ = attributes.device;
    if (scope.device_ != scope.previous_) {
      RETURN_IF_ERROR(CudaStatus(cudaSetDevice(scope.device_),
                                 absl::StrCat(what, ": cudaSetDevice(", scope.device_, ")")));
    }
    return scope;
  }
  DeviceScope(DeviceScope&& other) noexcept
      : device_(other.device_), previous_(std::exchange(other.previous_, -1)) {}
  DeviceScope(const DeviceScope&) = delete;
  ~DeviceScope() {
    if (previous_ >= 0 && previous_ != device_) cudaSetDevice(previous_);
  }
  int device() const { return device_; }

 private:
  DeviceScope() = default;
  int device_ = 0;
  int previous_ = -1;
};

std::string What(const Communicator& comm, std::string_view collective, size_t count,
                 DataType type) {
  return absl::StrCat("rank ", comm.rank(), " ", std::string(collective), " of a device buffer (",
                      count, " ", std::string(collectives::DataTypeName(type)), ")");
}

// The options of each staged piece: the whole call's deadline, fixed now.
CollectiveOptions PieceOptions(const CollectiveOptions& options) {
  CollectiveOptions piece = options;
  piece.deadline = options.Deadline(absl::Now());
  piece.timeout = absl::InfiniteDuration();
  return piece;
}

size_t StageBytes(const CollectiveOptions& options) {
  return options.device_stage_bytes > 0 ? options.device_stage_bytes : kDeviceSegmentBytes;
}

// Runs `reduce` on staged pieces of `device_buffer` with a pooled staging object of its device.
absl::Status Staged(const void* device_buffer, size_t count, DataType type, size_t segment_bytes,
                    absl::Time deadline, const std::string& what,
                    DeviceStagedAllreduce::HostSegmentReduce reduce) {
  ASSIGN_OR_RETURN(DeviceScope scope, DeviceScope::For(device_buffer, what));
  ASSIGN_OR_RETURN(std::unique_ptr<DeviceStagedAllreduce> stager,
                   StagerPool::Get().Acquire(scope.device()));
  // Stream 0 is the legacy default stream: the copies follow every blocking stream's work.
  const absl::Status status =
      stager->RunStaged(reduce, const_cast<void*>(device_buffer), count, type, segment_bytes,
                        deadline, /*stream=*/nullptr, what);
  StagerPool::Get().Release(scope.device(), std::move(stager));
  return status;
}

}  // namespace

bool IsDeviceBuffer(const void* p) { return collectives::cuda::IsDevicePointer(p); }

absl::Status DeviceAllreduce(Communicator& comm, void* data, size_t count, DataType type,
                             ReduceOp op, const CollectiveOptions& options) {
  const CollectiveOptions piece = PieceOptions(options);
  const size_t whole = std::max<size_t>(1, count * collectives::DataTypeSize(type));
  const size_t segment_bytes = options.min_participants > 0 ? whole : StageBytes(options);
  return Staged(data, count, type, segment_bytes, piece.deadline,
                What(comm, "allreduce", count, type),
                [&](size_t, void* host, size_t n) -> absl::Status {
                  return comm.Allreduce(host, n, type, op, piece);
                });
}

absl::Status DeviceReduceScatter(Communicator& comm, void* data, size_t count, DataType type,
                                 ReduceOp op, const CollectiveOptions& options) {
  const CollectiveOptions piece = PieceOptions(options);
  return Staged(data, count, type, std::max<size_t>(1, count * collectives::DataTypeSize(type)),
                piece.deadline, What(comm, "reduce-scatter", count, type),
                [&](size_t, void* host, size_t n) -> absl::Status {
                  return comm.ReduceScatter(host, n, type, op, piece);
                });
}

absl::Status DeviceBroadcast(Communicator& comm, void* data, size_t count, DataType type, int root,
                             const CollectiveOptions& options) {
  const CollectiveOptions piece = PieceOptions(options);
  return Staged(data, count, type, StageBytes(options), piece.deadline,
                What(comm, "broadcast", count, type),
                [&](size_t, void* host, size_t n) -> absl::Status {
                  return comm.Broadcast(host, n, type, root, piece);
                });
}

absl::Status DeviceAllgather(Communicator& comm, const void* input, void* output,
                             size_t count_per_rank, DataType type,
                             const CollectiveOptions& options) {
  const CollectiveOptions piece = PieceOptions(options);
  const size_t element = collectives::DataTypeSize(type);
  const size_t block_bytes = count_per_rank * element;
  const size_t count = count_per_rank * static_cast<size_t>(comm.world_size());
  std::byte* own_block = static_cast<std::byte*>(output) + comm.rank() * block_bytes;
  const std::string what = What(comm, "allgather", count, type);
  if (!IsDeviceBuffer(output)) {
    // Only the input lives on a device: bring it into this rank's block of the host output.
    if (input != own_block && block_bytes > 0) {
      ASSIGN_OR_RETURN(DeviceScope scope, DeviceScope::For(input, what));
      RETURN_IF_ERROR(CudaStatus(cudaMemcpy(own_block, input, block_bytes, cudaMemcpyDefault),
                                 absl::StrCat(what, ": cudaMemcpy of the input")));
    }
    return comm.Allgather(own_block, output, count_per_rank, type, piece);
  }
  if (input != own_block && block_bytes > 0) {
    // Queued on the legacy default stream, so the staging copies (which follow it) see it.
    ASSIGN_OR_RETURN(DeviceScope scope, DeviceScope::For(output, what));
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(own_block, input, block_bytes, cudaMemcpyDefault, nullptr),
                   absl::StrCat(what, ": cudaMemcpyAsync of the input into its block")));
  }
  return Staged(output, count, type, std::max<size_t>(1, count * element), piece.deadline, what,
                [&](size_t, void* host, size_t n) -> absl::Status {
                  const void* host_input =
                      static_cast<std::byte*>(host) + comm.rank() * block_bytes;
                  return comm.Allgather(host_input, host, count_per_rank, type, piece);
                });
}

}  // namespace crosslink::runtime
