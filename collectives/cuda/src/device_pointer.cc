#include "crosslink/collectives/cuda/device_pointer.h"

#include <cuda_runtime_api.h>

namespace crosslink::collectives::cuda {

bool IsDevicePointer(const void* p) {
  if (p == nullptr) return false;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    // Since CUDA 11 an unknown host pointer is not an error, so this is "no driver" or "no
    // device": nothing is device memory then. Clear the error so the next call does not see it.
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

}  // namespace crosslink::collectives::cuda
