// Allreduce of a device buffer over the host collectives (allreduce.h), for links that GPUs
// cannot reach directly (crosslinks are a host NIC's business): the buffer is copied to pinned
// host memory, reduced over the network, and copied back, in a pipeline of segments so that the
// device-to-host copies, the network and the host-to-device copies overlap.
//
// Pipeline: all device-to-host segment copies are queued at once on one stream (after the work
// already queued on the caller's stream, through an event), each followed by an event. The host
// thread waits for segment i's event, runs segment i as its own host Allreduce, and queues its
// host-to-device copy on a second stream; meanwhile segment i+1.. are still crossing PCIe and
// segment i-1 is on its way back. Each segment is a separate collective with sequence number
// context.sequence + i, so every rank must use the same segment_bytes.
//
// Collective and blocking: every rank calls Run with the same count, type, op and options; it
// returns once the reduced values are in the device buffer (and the caller's stream is also made
// to wait for them), or on failure, at the latest around options.allreduce.Deadline(start). On
// return, success or not, context.sequence has advanced by the number of segments
// (SegmentCount), the same on every rank. On failure the device buffer's contents are unspecified.
// Status codes: those of Allreduce (allreduce.h; executor.h lists them), naming the segment;
// kInvalidArgument for an invalid type or op, or a buffer that is not device memory;
// kFailedPrecondition when the current device is not the one Create ran on; kDeadlineExceeded
// when a copy (or one left queued by an earlier failed call) does not finish by the deadline;
// CUDA errors as in cuda_status.h.
//
// Memory: the pinned staging buffer is allocated on first use, grows to the largest buffer seen,
// and is kept until destruction, so steady-state calls allocate nothing.
// Thread-safety: one Run at a time per object (one object per rank, like the context).
#ifndef CROSSLINK_COLLECTIVES_CUDA_STAGED_ALLREDUCE_H_
#define CROSSLINK_COLLECTIVES_CUDA_STAGED_ALLREDUCE_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives::cuda {

struct DeviceStagedAllreduceOptions {
  // Algorithm, timeout/deadline (of the whole staged collective) and network segment size of
  // each segment's host Allreduce.
  CollectiveOptions allreduce;
  // Bytes per pipeline segment (rounded down to whole elements, at least one). 8 MiB: its PCIe
  // copy (~0.3 ms at 25 GB/s) is shorter than its trip over a 100 Gbit/s crosslink (~0.7 ms), so
  // after the first segment the copies hide behind the network; smaller segments would pay each
  // collective's fixed cost (a plan, one round of link latencies) more often.
  size_t segment_bytes = 8 << 20;
};

class DeviceStagedAllreduce {
 public:
  // Streams and events on the current device. CUDA errors as in cuda_status.h.
  static absl::StatusOr<std::unique_ptr<DeviceStagedAllreduce>> Create();
  ~DeviceStagedAllreduce();
  DeviceStagedAllreduce(const DeviceStagedAllreduce&) = delete;
  DeviceStagedAllreduce& operator=(const DeviceStagedAllreduce&) = delete;

  // Reduces `count` elements of `type` at `device_buffer` (device memory of the device Create
  // ran on) across the ranks of `context`. `stream` is the caller's stream: the copies start
  // after the work queued on it, and later work queued on it sees the result.
  absl::Status Run(CollectiveContext& context, void* device_buffer, size_t count, DataType type,
                   ReduceOp op, const DeviceStagedAllreduceOptions& options, cudaStream_t stream);

  // The network step of one staged segment: reduces `count` elements at `host` (pinned memory
  // holding segment `index` of SegmentCount) across the ranks, in place. Every rank is called
  // with the same indices and counts, in order.
  using HostSegmentReduce = absl::FunctionRef<absl::Status(size_t index, void* host, size_t count)>;

  // Run's pipeline with the network step supplied by the caller, for owners of their own
  // collective machinery (the runtime's Communicator runs each segment as one of its host
  // collectives). Same contract as Run, except that sequence numbers are the caller's business;
  // copies are bounded by `deadline`, `reduce` by whatever deadline it applies, and `who` (say
  // "rank 3 allreduce #12") starts every error message.
  absl::Status RunStaged(HostSegmentReduce reduce, void* device_buffer, size_t count, DataType type,
                         size_t segment_bytes, absl::Time deadline, cudaStream_t stream,
                         std::string_view who);

  // How many collectives (sequence numbers) Run uses for this buffer: ceil(bytes / segment),
  // at least 1.
  static size_t SegmentCount(size_t count, DataType type, size_t segment_bytes);

  // Bytes of pinned host memory held for staging.
  size_t pinned_bytes() const { return pinned_bytes_; }

 private:
  DeviceStagedAllreduce() = default;
  absl::Status ReservePinned(size_t bytes);
  absl::Status ReserveEvents(size_t n);
  absl::Status RunSegments(HostSegmentReduce reduce, std::byte* device, size_t count, DataType type,
                           absl::Time deadline, size_t segment_elements, size_t segments,
                           cudaStream_t stream, std::string_view who);

  int device_ = 0;
  cudaStream_t d2h_stream_ = nullptr;
  cudaStream_t h2d_stream_ = nullptr;
  cudaEvent_t input_ready_ = nullptr;
  cudaEvent_t output_ready_ = nullptr;
  std::vector<cudaEvent_t> d2h_done_;
  std::byte* pinned_ = nullptr;
  size_t pinned_bytes_ = 0;
  // A failed Run left copies queued on the staging buffer; the next Run waits for them.
  bool copies_pending_ = false;
};

}  // namespace crosslink::collectives::cuda

#endif  // CROSSLINK_COLLECTIVES_CUDA_STAGED_ALLREDUCE_H_
