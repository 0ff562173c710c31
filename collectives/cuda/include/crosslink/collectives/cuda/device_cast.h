// Conversions of device buffers between float32 and the 16-bit float formats, for mixed-precision
// collectives (send bf16, accumulate fp32) and for the staged path. Bit-identical to half.h on the
// host: round to nearest even, infinities kept, NaNs kept (quiet, sign kept; fp16 NaN becomes
// 0x7E00 with the sign, bf16 NaN keeps its top payload bits), overflow to infinity, underflow to
// subnormals or zero; widening is exact.
//
// Asynchronous: one kernel on `stream`; buffers borrowed until the stream reaches it, and must
// not overlap. Status: kInvalidArgument for a pair other than float32 <-> float16/bfloat16 (or the
// same type, which is a plain copy) or a null pointer with count > 0; the CUDA error otherwise.
// Thread-safety: safe from any thread.
#ifndef CROSSLINK_COLLECTIVES_CUDA_DEVICE_CAST_H_
#define CROSSLINK_COLLECTIVES_CUDA_DEVICE_CAST_H_

#include <cuda_runtime_api.h>

#include <cstddef>

#include "absl/status/status.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives::cuda {

// out[i] = convert(in[i]) for i in [0, count).
absl::Status DeviceCast(const void* in, DataType in_type, void* out, DataType out_type,
                        size_t count, cudaStream_t stream);

}  // namespace crosslink::collectives::cuda

#endif  // CROSSLINK_COLLECTIVES_CUDA_DEVICE_CAST_H_
