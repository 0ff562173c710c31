// The conversion kernels behind device_cast.h: float32 <-> fp16/bf16 with half.h's rounding and
// NaN rules (device_arith.cuh). Eight elements per step: 32 bytes of float32 against 16 bytes of
// 16-bit words, each side one or two 16-byte vector accesses when both buffers are aligned.
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/cuda/cuda_status.h"
#include "crosslink/collectives/cuda/device_cast.h"
#include "device_arith.cuh"

namespace crosslink::collectives::cuda {
namespace {

using internal::Pack;

struct ToHalf {
  using In = float;
  using Out = uint16_t;
  __device__ static uint16_t Convert(float f) { return internal::FloatToHalf(f); }
};
struct ToBFloat16 {
  using In = float;
  using Out = uint16_t;
  __device__ static uint16_t Convert(float f) { return internal::FloatToBFloat16(f); }
};
struct FromHalf {
  using In = uint16_t;
  using Out = float;
  __device__ static float Convert(uint16_t h) { return internal::HalfToFloat(h); }
};
struct FromBFloat16 {
  using In = uint16_t;
  using Out = float;
  __device__ static float Convert(uint16_t b) { return internal::BFloat16ToFloat(b); }
};

constexpr int kGroup = 8;

template <typename Conv>
__global__ void CastKernel(const typename Conv::In* __restrict__ in,
                           typename Conv::Out* __restrict__ out, size_t count, bool vectorised) {
  using In = typename Conv::In;
  using Out = typename Conv::Out;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t scalar_begin = 0;
  if (vectorised) {
    const size_t groups = count / kGroup;
    const auto* in_p = reinterpret_cast<const Pack<In, kGroup>*>(in);
    auto* out_p = reinterpret_cast<Pack<Out, kGroup>*>(out);
    for (size_t i = first; i < groups; i += stride) {
      const Pack<In, kGroup> a = in_p[i];
      Pack<Out, kGroup> b;
#pragma unroll
      for (int k = 0; k < kGroup; ++k) b.v[k] = Conv::Convert(a.v[k]);
      out_p[i] = b;
    }
    scalar_begin = groups * kGroup;
  }
  for (size_t i = scalar_begin + first; i < count; i += stride) out[i] = Conv::Convert(in[i]);
}

template <typename Conv>
void Launch(const void* in, void* out, size_t count, cudaStream_t stream) {
  const bool vectorised = internal::Aligned16(in) && internal::Aligned16(out);
  const size_t items = vectorised ? count / kGroup + kGroup : count;
  CastKernel<Conv><<<internal::GridBlocks(items), internal::kThreads, 0, stream>>>(
      static_cast<const typename Conv::In*>(in), static_cast<typename Conv::Out*>(out), count,
      vectorised);
}

}  // namespace

absl::Status DeviceCast(const void* in, DataType in_type, void* out, DataType out_type,
                        size_t count, cudaStream_t stream) {
  const std::string what = absl::StrFormat("DeviceCast(%s -> %s, %u elements)",
                                           DataTypeName(in_type), DataTypeName(out_type), count);
  if (!IsValidDataType(in_type) || !IsValidDataType(out_type)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": invalid data type"));
  }
  if (count == 0) return absl::OkStatus();
  if (in == nullptr || out == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": null buffer"));
  }
  if (in_type == out_type) {
    return CudaStatus(
        cudaMemcpyAsync(out, in, count * DataTypeSize(in_type), cudaMemcpyDeviceToDevice, stream),
        absl::StrCat(what, ": cudaMemcpyAsync"));
  }
  if (in_type == DataType::kFloat32 && out_type == DataType::kFloat16) {
    Launch<ToHalf>(in, out, count, stream);
  } else if (in_type == DataType::kFloat32 && out_type == DataType::kBFloat16) {
    Launch<ToBFloat16>(in, out, count, stream);
  } else if (in_type == DataType::kFloat16 && out_type == DataType::kFloat32) {
    Launch<FromHalf>(in, out, count, stream);
  } else if (in_type == DataType::kBFloat16 && out_type == DataType::kFloat32) {
    Launch<FromBFloat16>(in, out, count, stream);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": only float32 <-> float16/bfloat16 conversions exist"));
  }
  return CudaStatus(cudaGetLastError(), absl::StrCat(what, ": kernel launch"));
}

}  // namespace crosslink::collectives::cuda
