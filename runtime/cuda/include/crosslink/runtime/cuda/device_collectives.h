// Collectives of the Communicator on CUDA device buffers: the buffer is staged through pinned host
// memory (collectives/cuda/staged_allreduce.h) and every staged piece runs as one of the
// Communicator's ordinary host collectives, so a training program hands its gradients' device
// pointers to Communicator::Allreduce and friends without copying them itself. The Communicator
// calls these functions when the runtime was built with CUDA (CROSSLINK_RUNTIME_CUDA) and a
// buffer is device memory (IsDeviceBuffer); programs need not call them directly.
//
// Stream order: the copies start after the work queued on the legacy default stream (stream 0,
// which also waits for every blocking stream) and the call returns only once the result is in
// device memory, like the host collectives. A program that produces the buffer on a non-blocking
// stream synchronises that stream first (the torch glue does).
//
// Pieces and sequence numbers: Allreduce and Broadcast run in segments of kDeviceSegmentBytes
// (CollectiveOptions::device_stage_bytes when set; one collective, so one sequence number, each),
// which overlaps the device-to-host copy of segment i+1 and the host-to-device copy of segment i-1
// with the network on segment i. With CollectiveOptions::min_participants > 0 an Allreduce is one
// segment, so that its contributors (Communicator::last_stats) hold for the whole buffer.
// ReduceScatter and Allgather stage the whole buffer as one collective (their block layout spans
// it). Allgather with a device output first copies `input` into its own block of the output on the
// device and stages the output, so it moves world_size times the input over PCIe each way; with a
// host output and a device input only the input is copied. Every rank must pass the same sizes (as
// for any collective); a rank with a host buffer and a rank with a device buffer interoperate.
//
// Blocking, collective, errors and thread-safety: those of the Communicator's method (deadline:
// min(options.deadline, now + options.timeout) for the whole call), plus CUDA errors
// (cuda_status.h) and kDeadlineExceeded when a copy does not finish in time, each naming the rank.
// Device: each call runs on the buffer's device and restores the caller's current device.
// Memory: pinned staging buffers and streams live in a process-wide pool per device (one per
// collective running at the same time), grow to the largest buffer seen and are kept until exit,
// so steady-state calls allocate nothing.
#ifndef CROSSLINK_RUNTIME_CUDA_DEVICE_COLLECTIVES_H_
#define CROSSLINK_RUNTIME_CUDA_DEVICE_COLLECTIVES_H_

#include <cstddef>

#include "absl/status/status.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

// 16 MiB: its PCIe copy (~0.6 ms at 25 GB/s) still hides behind its trip over a 100 Gbit/s
// crosslink (~1.3 ms), and fewer pieces pay a collective's fixed cost (a plan, one round of link
// latencies) less often. On an H200 with 4 ranks sharing the GPU, 64 MiB device against host
// buffers took 1.03-1.06x with 16 MiB pieces, 1.06-1.17x with 8 MiB and 1.01-1.16x with 32 MiB
// (three runs each, bench/gpu_check.sh). Every rank uses the same value, so every rank cuts a
// buffer into the same collectives.
inline constexpr size_t kDeviceSegmentBytes = size_t{16} << 20;

// True when `p` is CUDA device or managed memory (device_pointer.h). False without a GPU.
bool IsDeviceBuffer(const void* p);

absl::Status DeviceAllreduce(Communicator& comm, void* data, size_t count,
                             collectives::DataType type, collectives::ReduceOp op,
                             const CollectiveOptions& options);
absl::Status DeviceReduceScatter(Communicator& comm, void* data, size_t count,
                                 collectives::DataType type, collectives::ReduceOp op,
                                 const CollectiveOptions& options);
// `input` or `output` (or both) is device memory.
absl::Status DeviceAllgather(Communicator& comm, const void* input, void* output,
                             size_t count_per_rank, collectives::DataType type,
                             const CollectiveOptions& options);
absl::Status DeviceBroadcast(Communicator& comm, void* data, size_t count,
                             collectives::DataType type, int root,
                             const CollectiveOptions& options);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_CUDA_DEVICE_COLLECTIVES_H_
