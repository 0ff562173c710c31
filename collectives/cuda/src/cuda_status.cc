#include "crosslink/collectives/cuda/cuda_status.h"

#include <cuda_runtime_api.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace crosslink::collectives::cuda {

absl::Status CudaStatus(cudaError_t error, std::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  const std::string message = absl::StrCat(std::string(what), ": ", cudaGetErrorName(error), ": ",
                                           cudaGetErrorString(error));
  switch (error) {
    case cudaErrorMemoryAllocation:
      return absl::ResourceExhaustedError(message);
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevicePointer:
      return absl::InvalidArgumentError(message);
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status CheckCudaDevicePresent() {
  int devices = 0;
  const cudaError_t error = cudaGetDeviceCount(&devices);
  if (error != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it so later calls do not report it again
    return absl::FailedPreconditionError(absl::StrCat(
        "cudaGetDeviceCount: ", cudaGetErrorName(error), ": ", cudaGetErrorString(error)));
  }
  if (devices == 0) return absl::FailedPreconditionError("cudaGetDeviceCount: 0 devices");
  return absl::OkStatus();
}

}  // namespace crosslink::collectives::cuda
