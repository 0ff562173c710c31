// Classifies a pointer as device memory (cudaMalloc, cudaMallocManaged, cudaMallocAsync) or
// host memory (malloc'd or pinned), so that a collective entry point can take either and choose
// the staged path (staged_allreduce.h) for device buffers.
//
// Thread-safety: safe from any thread. Never blocks on the GPU.
#ifndef CROSSLINK_COLLECTIVES_CUDA_DEVICE_POINTER_H_
#define CROSSLINK_COLLECTIVES_CUDA_DEVICE_POINTER_H_

namespace crosslink::collectives::cuda {

// True when `p` points into device or managed memory of any device. False for nullptr, for
// ordinary and pinned host memory, and when CUDA cannot classify it (no device, no driver); in
// that case the error is cleared so that it does not surface at the next unrelated CUDA call.
bool IsDevicePointer(const void* p);

}  // namespace crosslink::collectives::cuda

#endif  // CROSSLINK_COLLECTIVES_CUDA_DEVICE_POINTER_H_
