// absl::Status from a CUDA runtime error, so that every CUDA failure reaches the caller with the
// call that failed and CUDA's own words for why ("DeviceReduce(float32, sum, 1024 elements):
// kernel launch: cudaErrorInvalidDeviceFunction: invalid device function").
//
// Codes: cudaErrorMemoryAllocation -> kResourceExhausted; cudaErrorInvalidValue and
// cudaErrorInvalidDevicePointer -> kInvalidArgument; cudaErrorNoDevice and
// cudaErrorInsufficientDriver -> kFailedPrecondition; everything else -> kInternal.
// Thread-safety: pure.
#ifndef CROSSLINK_COLLECTIVES_CUDA_CUDA_STATUS_H_
#define CROSSLINK_COLLECTIVES_CUDA_CUDA_STATUS_H_

#include <cuda_runtime_api.h>

#include <string_view>

#include "absl/status/status.h"

namespace crosslink::collectives::cuda {

// OkStatus() for cudaSuccess, otherwise "<what>: <error name>: <error string>".
absl::Status CudaStatus(cudaError_t error, std::string_view what);

// OkStatus() when this process can use at least one CUDA device; otherwise kFailedPrecondition
// saying why not (cudaGetDeviceCount's error, or "0 devices"). Tests skip with this message.
absl::Status CheckCudaDevicePresent();

}  // namespace crosslink::collectives::cuda

#endif  // CROSSLINK_COLLECTIVES_CUDA_CUDA_STATUS_H_
