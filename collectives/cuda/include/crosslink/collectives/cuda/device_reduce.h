// Element-wise reductions of device buffers: the GPU counterpart of reduce.h, for collectives
// that reduce where the data lives (NCCL-less paths, and the final kAvg division after a sum).
//
// Semantics match reduce.h bit for bit for the same operands: inout[i] = op(inout[i], in[i]);
// fp16/bf16 widen to float32, combine, and round back to nearest even; integer sums wrap; float
// min/max propagate NaN from either operand; kAvg reduces as kSum and DeviceFinalize divides by
// the world size (floats: correctly rounded division; integers: truncation toward zero). NaN
// results carry the bits the x86-64 host gives (a NaN in inout wins, then a NaN in in, and an
// invalid operation such as inf - inf gives the negative quiet NaN), so a NaN gradient looks the
// same whichever side reduced it.
//
// Asynchronous: each call enqueues exactly one kernel on `stream` and returns; the buffers are
// borrowed until the stream reaches that point. Pointers must be device (or managed) memory of
// the current device; 16-byte aligned buffers take the vectorised path, others a scalar one.
// Status: kInvalidArgument for a bad type, op, world size, or a null pointer with count > 0;
// the CUDA error (cuda_status.h) when the launch fails. Errors the kernel meets while running
// surface at the next synchronisation of the stream, as with any CUDA kernel.
// Thread-safety: safe from any thread.
#ifndef CROSSLINK_COLLECTIVES_CUDA_DEVICE_REDUCE_H_
#define CROSSLINK_COLLECTIVES_CUDA_DEVICE_REDUCE_H_

#include <cuda_runtime_api.h>

#include <cstddef>

#include "absl/status/status.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives::cuda {

// inout[i] = op(inout[i], in[i]) for i in [0, count). kAvg combines as kSum. `inout` and `in`
// must not overlap.
absl::Status DeviceReduce(void* inout, const void* in, size_t count, DataType type, ReduceOp op,
                          cudaStream_t stream);

// data[i] /= world_size for kAvg (one kernel); for the other ops nothing is enqueued.
absl::Status DeviceFinalize(void* data, size_t count, DataType type, ReduceOp op, int world_size,
                            cudaStream_t stream);

}  // namespace crosslink::collectives::cuda

#endif  // CROSSLINK_COLLECTIVES_CUDA_DEVICE_REDUCE_H_
