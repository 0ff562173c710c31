// Shared by the crosslink::cuda tests: the skip that keeps GPU-less CI green (and says why in the
// log), and a device buffer that frees itself.
#ifndef CROSSLINK_TESTS_COLLECTIVES_CUDA_CUDA_TEST_UTIL_H_
#define CROSSLINK_TESTS_COLLECTIVES_CUDA_CUDA_TEST_UTIL_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "crosslink/collectives/cuda/cuda_status.h"
#include "gtest/gtest.h"

// First statement of every GPU test.
#define CROSSLINK_SKIP_WITHOUT_CUDA()                                                              \
  do {                                                                                             \
    const absl::Status crosslink_device_ = crosslink::collectives::cuda::CheckCudaDevicePresent(); \
    if (!crosslink_device_.ok()) {                                                                 \
      GTEST_SKIP() << "no CUDA device: " << crosslink_device_.message();                           \
    }                                                                                              \
  } while (false)

namespace crosslink::collectives::cuda::testing {

// `bytes` of device memory plus `offset_bytes` in front, so tests can hand kernels a pointer that
// is deliberately not 16-byte aligned (the scalar path).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes, size_t offset_bytes = 0)
      : bytes_(bytes), offset_(offset_bytes) {
    EXPECT_EQ(cudaSuccess, cudaMalloc(&base_, bytes + offset_bytes + 16));
  }
  ~DeviceBuffer() { cudaFree(base_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return static_cast<std::byte*>(base_) + offset_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(get());
  }

  void Upload(const void* host) const {
    ASSERT_EQ(cudaSuccess, cudaMemcpy(get(), host, bytes_, cudaMemcpyHostToDevice));
  }
  template <typename T>
  void Upload(const std::vector<T>& host) const {
    ASSERT_EQ(host.size() * sizeof(T), bytes_);
    Upload(static_cast<const void*>(host.data()));
  }
  template <typename T>
  std::vector<T> Download() const {
    std::vector<T> out(bytes_ / sizeof(T));
    EXPECT_EQ(cudaSuccess, cudaMemcpy(out.data(), get(), bytes_, cudaMemcpyDeviceToHost));
    return out;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_;
  size_t offset_;
};

}  // namespace crosslink::collectives::cuda::testing

#endif  // CROSSLINK_TESTS_COLLECTIVES_CUDA_CUDA_TEST_UTIL_H_
