// The conversion kernels behind device_cast.h: float32 <-> fp16/bf16 with half.h's rounding and
// NaN rules (device_arith.cuh). Four elements per item: 16 bytes of float32 against 8 bytes of
// 16-bit words, each one vector access when both buffers are aligned, so that a warp's loads and
// its stores are each one contiguous run (an earlier layout of eight elements per thread made
// every 32-byte float32 store span two lanes' halves of a sector and ran at 0.65x of a copy), and
// four items in flight per thread (StreamItems).
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

constexpr int kGroup = 4;
constexpr int kUnroll = 4;

template <typename Conv>
__global__ void CastKernel(const typename Conv::In* __restrict__ in,
                           typename Conv::Out* __restrict__ out, size_t count, bool vectorised) {
  using InPack = Pack<typename Conv::In, kGroup>;
  using OutPack = Pack<typename Conv::Out, kGroup>;
  const size_t groups = vectorised ? count / kGroup : 0;
  const InPack* __restrict__ in_p = reinterpret_cast<const InPack*>(in);
  OutPack* __restrict__ out_p = reinterpret_cast<OutPack*>(out);
  internal::StreamItems<kUnroll, InPack>(
      groups, [&](size_t i) { return in_p[i]; },
      [&](size_t i, const InPack& a) {
        OutPack b;
#pragma unroll
        for (int k = 0; k < kGroup; ++k) b.v[k] = Conv::Convert(a.v[k]);
        out_p[i] = b;
      });
  internal::StreamTail(groups * kGroup, count, [&](size_t i) { out[i] = Conv::Convert(in[i]); });
}

template <typename Conv>
void Launch(const void* in, void* out, size_t count, cudaStream_t stream) {
  // Whole packs need each side aligned to its pack: 16 bytes of float32, 8 of 16-bit words.
  const bool vectorised = internal::AlignedTo(in, sizeof(typename Conv::In) * kGroup) &&
                          internal::AlignedTo(out, sizeof(typename Conv::Out) * kGroup);
  const unsigned grid =
      vectorised ? internal::GridBlocks(count / kGroup, kUnroll) : internal::GridBlocks(count);
  CastKernel<Conv><<<grid, internal::kThreads, 0, stream>>>(
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
