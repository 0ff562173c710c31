// The blockwise int8 codec with error feedback (compression/int8_blockwise.h) on device buffers:
// same format, same arithmetic, identical bytes (q and scales) and identical residuals as the
// host codec for the same input.
//
// Asynchronous: one kernel on `stream` per call; buffers are device memory, borrowed until the
// stream reaches the kernel, and must not overlap. Buffers 16-byte aligned (floats) and 4-byte
// aligned (q) take the vectorised path. Status: kInvalidArgument for a null pointer with
// count > 0; the CUDA error when the launch fails. Thread-safety: safe from any thread.
#ifndef CROSSLINK_COLLECTIVES_CUDA_INT8_CODEC_H_
#define CROSSLINK_COLLECTIVES_CUDA_INT8_CODEC_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "crosslink/collectives/compression/int8_blockwise.h"

namespace crosslink::collectives::cuda {

// Encodes x[0, count) into q[0, count) and scales[0, Int8NumBlocks(count)); `error_feedback`
// (count floats, or nullptr) is added first and receives the new residual.
absl::Status DeviceInt8Quantize(const float* x, size_t count, float* error_feedback, int8_t* q,
                                float* scales, cudaStream_t stream);

// out[i] = q[i] * scales[i / kInt8BlockSize].
absl::Status DeviceInt8Dequantize(const int8_t* q, const float* scales, size_t count, float* out,
                                  cudaStream_t stream);

}  // namespace crosslink::collectives::cuda

#endif  // CROSSLINK_COLLECTIVES_CUDA_INT8_CODEC_H_
