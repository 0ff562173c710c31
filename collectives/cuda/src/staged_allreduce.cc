#include "crosslink/collectives/cuda/staged_allreduce.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/cuda/cuda_status.h"
#include "crosslink/collectives/cuda/device_pointer.h"

namespace crosslink::collectives::cuda {
namespace {

// Waits for `event` on the host until `deadline`. Polling, not cudaEventSynchronize, because the
// latter cannot give up: a copy queued behind a kernel that never ends would hang the rank. The
// first ~100 µs spin on yield (a segment's copy takes about that long, and a sleep would add its
// own wake-up latency to every segment); after that the thread sleeps 50 µs between looks.
absl::Status WaitForEvent(cudaEvent_t event, absl::Time deadline, std::string_view what) {
  const absl::Time spin_until = absl::Now() + absl::Microseconds(100);
  while (true) {
    const cudaError_t state = cudaEventQuery(event);
    if (state == cudaSuccess) return absl::OkStatus();
    if (state != cudaErrorNotReady) return CudaStatus(state, what);
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(std::string(what), ": the copy had not finished by the deadline"));
    }
    if (now < spin_until) {
      std::this_thread::yield();
    } else {
      absl::SleepFor(absl::Microseconds(50));
    }
  }
}

// Waits until `stream` has run everything queued on it, polling like WaitForEvent.
absl::Status WaitForStream(cudaStream_t stream, absl::Time deadline, std::string_view what) {
  while (true) {
    const cudaError_t state = cudaStreamQuery(stream);
    if (state == cudaSuccess) return absl::OkStatus();
    if (state != cudaErrorNotReady) return CudaStatus(state, what);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(std::string(what), ": copies of an earlier failed call are still queued"));
    }
    absl::SleepFor(absl::Microseconds(50));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceStagedAllreduce>> DeviceStagedAllreduce::Create() {
  std::unique_ptr<DeviceStagedAllreduce> self(new DeviceStagedAllreduce());
  RETURN_IF_ERROR(
      CudaStatus(cudaGetDevice(&self->device_), "DeviceStagedAllreduce: cudaGetDevice"));
  // Non-blocking streams: the copies must not serialise with the legacy default stream.
  RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&self->d2h_stream_, cudaStreamNonBlocking),
                             "DeviceStagedAllreduce: cudaStreamCreateWithFlags (device to host)"));
  RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&self->h2d_stream_, cudaStreamNonBlocking),
                             "DeviceStagedAllreduce: cudaStreamCreateWithFlags (host to device)"));
  RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&self->input_ready_, cudaEventDisableTiming),
                             "DeviceStagedAllreduce: cudaEventCreateWithFlags"));
  RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&self->output_ready_, cudaEventDisableTiming),
                             "DeviceStagedAllreduce: cudaEventCreateWithFlags"));
  return self;
}

DeviceStagedAllreduce::~DeviceStagedAllreduce() {
  // After a failed Run copies may still be queued; cudaFreeHost waits for the device first.
  for (cudaEvent_t event : d2h_done_) cudaEventDestroy(event);
  if (input_ready_ != nullptr) cudaEventDestroy(input_ready_);
  if (output_ready_ != nullptr) cudaEventDestroy(output_ready_);
  if (d2h_stream_ != nullptr) cudaStreamDestroy(d2h_stream_);
  if (h2d_stream_ != nullptr) cudaStreamDestroy(h2d_stream_);
  if (pinned_ != nullptr) cudaFreeHost(pinned_);
}

size_t DeviceStagedAllreduce::SegmentCount(size_t count, DataType type, size_t segment_bytes) {
  const size_t element = DataTypeSize(type);
  const size_t per_segment = std::max<size_t>(1, segment_bytes / std::max<size_t>(1, element));
  return std::max<size_t>(1, (count + per_segment - 1) / per_segment);
}

absl::Status DeviceStagedAllreduce::ReservePinned(size_t bytes) {
  if (bytes <= pinned_bytes_) return absl::OkStatus();
  if (pinned_ != nullptr) {
    RETURN_IF_ERROR(CudaStatus(cudaFreeHost(pinned_), "DeviceStagedAllreduce: cudaFreeHost"));
    pinned_ = nullptr;
    pinned_bytes_ = 0;
  }
  // Whole MiB, so that buffers growing a little at a time do not reallocate every call.
  const size_t rounded = (bytes + (1u << 20) - 1) & ~size_t{(1u << 20) - 1};
  void* p = nullptr;
  RETURN_IF_ERROR(
      CudaStatus(cudaHostAlloc(&p, rounded, cudaHostAllocPortable),
                 absl::StrFormat("DeviceStagedAllreduce: cudaHostAlloc(%u bytes)", rounded)));
  pinned_ = static_cast<std::byte*>(p);
  pinned_bytes_ = rounded;
  return absl::OkStatus();
}

absl::Status DeviceStagedAllreduce::ReserveEvents(size_t n) {
  while (d2h_done_.size() < n) {
    cudaEvent_t event = nullptr;
    RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&event, cudaEventDisableTiming),
                               "DeviceStagedAllreduce: cudaEventCreateWithFlags"));
    d2h_done_.push_back(event);
  }
  return absl::OkStatus();
}

absl::Status DeviceStagedAllreduce::Run(CollectiveContext& context, void* device_buffer,
                                        size_t count, DataType type, ReduceOp op,
                                        const DeviceStagedAllreduceOptions& options,
                                        cudaStream_t stream) {
  const uint64_t base_sequence = context.sequence;
  const size_t segments = SegmentCount(count, type, options.segment_bytes);
  // Every rank advances by the same amount whatever happens below, so the next collective's
  // sequence numbers agree even after a failure.
  context.sequence = base_sequence + segments;
  const std::string who = absl::StrFormat(
      "DeviceStagedAllreduce(rank %d of %d, %s, %s, %u elements, sequence %u)", context.rank,
      context.world_size, DataTypeName(type), ReduceOpName(op), count, base_sequence);
  if (!IsValidReduceOp(op)) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": invalid reduce op"));
  }
  // One absolute deadline for the whole staged collective: every segment's host allreduce ends
  // by it, not by its own start plus the timeout.
  CollectiveOptions segment_options = options.allreduce;
  segment_options.deadline = options.allreduce.Deadline(absl::Now());
  auto reduce = [&](size_t index, void* host, size_t n) -> absl::Status {
    CollectiveContext segment_context = context;
    segment_context.sequence = base_sequence + index;
    return Allreduce(segment_context, host, n, type, op, segment_options);
  };
  return RunStaged(reduce, device_buffer, count, type, options.segment_bytes,
                   segment_options.deadline, stream, who);
}

absl::Status DeviceStagedAllreduce::RunStaged(HostSegmentReduce reduce, void* device_buffer,
                                              size_t count, DataType type, size_t segment_bytes,
                                              absl::Time deadline, cudaStream_t stream,
                                              std::string_view who) {
  const std::string what(who);
  if (!IsValidDataType(type)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": invalid data type"));
  }
  if (count > 0 && !IsDevicePointer(device_buffer)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the buffer is not device memory (use Allreduce for host buffers)"));
  }
  int device = -1;
  RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&device), absl::StrCat(what, ": cudaGetDevice")));
  if (device != device_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: called on device %d, but this object's streams belong to device %d",
                        what, device, device_));
  }
  if (copies_pending_) {
    // An earlier call failed while copies were queued (say, behind a kernel that had not
    // finished): the staging buffer is theirs until they complete.
    RETURN_IF_ERROR(WaitForStream(d2h_stream_, deadline, what));
    RETURN_IF_ERROR(WaitForStream(h2d_stream_, deadline, what));
    copies_pending_ = false;
  }
  const size_t segments = SegmentCount(count, type, segment_bytes);
  const size_t bytes = count * DataTypeSize(type);
  RETURN_IF_ERROR(ReservePinned(std::max<size_t>(bytes, 1)));
  RETURN_IF_ERROR(ReserveEvents(segments));
  const size_t segment_elements = std::max<size_t>(1, segment_bytes / DataTypeSize(type));
  absl::Status status = RunSegments(reduce, static_cast<std::byte*>(device_buffer), count, type,
                                    deadline, segment_elements, segments, stream, what);
  if (!status.ok()) {
    // Copies may still be queued on the staging buffer. Waiting for them here could hang (they
    // may sit behind a kernel on the caller's stream that never ends), so the next Run waits
    // for them instead, under its own deadline.
    copies_pending_ =
        cudaStreamQuery(d2h_stream_) != cudaSuccess || cudaStreamQuery(h2d_stream_) != cudaSuccess;
    cudaGetLastError();  // cudaErrorNotReady from the queries is not an error to report later
  }
  return status;
}

absl::Status DeviceStagedAllreduce::RunSegments(HostSegmentReduce reduce, std::byte* device,
                                                size_t count, DataType type, absl::Time deadline,
                                                size_t segment_elements, size_t segments,
                                                cudaStream_t stream, std::string_view who) {
  const size_t element = DataTypeSize(type);
  auto segment_what = [&](size_t i, std::string_view step) {
    return absl::StrFormat("%s, segment %u of %u: %s", who, i + 1, segments, step);
  };
  RETURN_IF_ERROR(CudaStatus(cudaEventRecord(input_ready_, stream),
                             segment_what(0, "cudaEventRecord on the caller's stream")));
  RETURN_IF_ERROR(CudaStatus(cudaStreamWaitEvent(d2h_stream_, input_ready_, 0),
                             segment_what(0, "cudaStreamWaitEvent")));
  for (size_t i = 0; i < segments; ++i) {
    const size_t offset = i * segment_elements;
    const size_t n = offset < count ? std::min(segment_elements, count - offset) : 0;
    if (n > 0) {
      RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(pinned_ + offset * element, device + offset * element,
                                     n * element, cudaMemcpyDeviceToHost, d2h_stream_),
                     segment_what(i, "cudaMemcpyAsync device to host")));
    }
    RETURN_IF_ERROR(
        CudaStatus(cudaEventRecord(d2h_done_[i], d2h_stream_), segment_what(i, "cudaEventRecord")));
  }
  for (size_t i = 0; i < segments; ++i) {
    const size_t offset = i * segment_elements;
    const size_t n = offset < count ? std::min(segment_elements, count - offset) : 0;
    RETURN_IF_ERROR(WaitForEvent(d2h_done_[i], deadline, segment_what(i, "device-to-host copy")));
    const absl::Status reduced = reduce(i, pinned_ + offset * element, n);
    if (!reduced.ok()) {
      return absl::Status(reduced.code(), absl::StrCat(segment_what(i, "host collective"), ": ",
                                                       reduced.message()));
    }
    if (n > 0) {
      RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(device + offset * element, pinned_ + offset * element,
                                     n * element, cudaMemcpyHostToDevice, h2d_stream_),
                     segment_what(i, "cudaMemcpyAsync host to device")));
    }
  }
  RETURN_IF_ERROR(CudaStatus(cudaEventRecord(output_ready_, h2d_stream_),
                             segment_what(segments - 1, "cudaEventRecord")));
  RETURN_IF_ERROR(
      CudaStatus(cudaStreamWaitEvent(stream, output_ready_, 0),
                 segment_what(segments - 1, "cudaStreamWaitEvent on the caller's stream")));
  return WaitForEvent(output_ready_, deadline, segment_what(segments - 1, "host-to-device copy"));
}

}  // namespace crosslink::collectives::cuda
