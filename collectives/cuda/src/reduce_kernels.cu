// The reduction and kAvg finalisation kernels behind device_reduce.h. One template kernel per
// (element type, operation): a grid-stride loop over 16-byte packs when both buffers are 16-byte
// aligned, then the remaining elements one by one, all in one launch.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/cuda/cuda_status.h"
#include "crosslink/collectives/cuda/device_reduce.h"
#include "device_arith.cuh"

namespace crosslink::collectives::cuda {
namespace internal {

unsigned GridBlocks(size_t items) {
  int device = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      sms <= 0) {
    // The launch that follows reports the error; any positive grid is valid until then.
    cudaGetLastError();
    sms = 1;
  }
  const size_t wanted = (items + kThreads - 1) / kThreads;
  const size_t cap = static_cast<size_t>(sms) * 16;
  return static_cast<unsigned>(wanted == 0 ? 1 : (wanted < cap ? wanted : cap));
}

}  // namespace internal

namespace {

using internal::Pack;

// Combining functors: T is the stored element type (uint16_t for fp16/bf16 words).
struct SumOp {
  template <typename T>
  __device__ static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return internal::HostAdd(a, b);
    } else {
      // Two's-complement wrap-around, as the host's ReduceIntSum.
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    }
  }
};
struct MinOp {
  template <typename T>
  __device__ static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return (a < b || a != a) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};
struct MaxOp {
  template <typename T>
  __device__ static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return (a > b || a != a) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};

// Element codecs: native types combine as themselves; 16-bit words widen to float32.
template <typename T>
struct Native {
  using Stored = T;
  template <typename Op>
  __device__ static T Combine(T a, T b) {
    return Op::Apply(a, b);
  }
  __device__ static T Divide(T a, int n) {
    if constexpr (std::is_floating_point_v<T>) {
      return internal::HostDiv(a, static_cast<T>(n));
    } else {
      return a / static_cast<T>(n);
    }
  }
};
struct Half {
  using Stored = uint16_t;
  template <typename Op>
  __device__ static uint16_t Combine(uint16_t a, uint16_t b) {
    return internal::FloatToHalf(Op::Apply(internal::HalfToFloat(a), internal::HalfToFloat(b)));
  }
  __device__ static uint16_t Divide(uint16_t a, int n) {
    return internal::FloatToHalf(
        internal::HostDiv(internal::HalfToFloat(a), static_cast<float>(n)));
  }
};
struct BFloat16 {
  using Stored = uint16_t;
  template <typename Op>
  __device__ static uint16_t Combine(uint16_t a, uint16_t b) {
    return internal::FloatToBFloat16(
        Op::Apply(internal::BFloat16ToFloat(a), internal::BFloat16ToFloat(b)));
  }
  __device__ static uint16_t Divide(uint16_t a, int n) {
    return internal::FloatToBFloat16(
        internal::HostDiv(internal::BFloat16ToFloat(a), static_cast<float>(n)));
  }
};

// The grid-stride loop both kernels share: with `vectorised` (16-byte aligned buffers), pack_fn(i)
// for every whole pack of kN elements (one 16-byte load and store per operand), then
// element_fn(i) for the tail; otherwise element_fn for every element.
template <int kN, typename PackFn, typename ElementFn>
__device__ __forceinline__ void ForEachPackThenElement(size_t count, bool vectorised,
                                                       PackFn pack_fn, ElementFn element_fn) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t scalar_begin = 0;
  if (vectorised) {
    const size_t packs = count / kN;
    for (size_t i = first; i < packs; i += stride) pack_fn(i);
    scalar_begin = packs * kN;
  }
  for (size_t i = scalar_begin + first; i < count; i += stride) element_fn(i);
}

template <typename Codec, typename Op>
__global__ void ReduceKernel(typename Codec::Stored* __restrict__ inout,
                             const typename Codec::Stored* __restrict__ in, size_t count,
                             bool vectorised) {
  using T = typename Codec::Stored;
  constexpr int kN = 16 / sizeof(T);
  using P = Pack<T, kN>;
  P* out_p = reinterpret_cast<P*>(inout);
  const P* in_p = reinterpret_cast<const P*>(in);
  ForEachPackThenElement<kN>(
      count, vectorised,
      [&](size_t i) {
        P a = out_p[i];
        const P b = in_p[i];
#pragma unroll
        for (int k = 0; k < kN; ++k) a.v[k] = Codec::template Combine<Op>(a.v[k], b.v[k]);
        out_p[i] = a;
      },
      [&](size_t i) { inout[i] = Codec::template Combine<Op>(inout[i], in[i]); });
}

template <typename Codec>
__global__ void FinalizeKernel(typename Codec::Stored* __restrict__ data, size_t count,
                               int world_size, bool vectorised) {
  using T = typename Codec::Stored;
  constexpr int kN = 16 / sizeof(T);
  using P = Pack<T, kN>;
  P* p = reinterpret_cast<P*>(data);
  ForEachPackThenElement<kN>(
      count, vectorised,
      [&](size_t i) {
        P a = p[i];
#pragma unroll
        for (int k = 0; k < kN; ++k) a.v[k] = Codec::Divide(a.v[k], world_size);
        p[i] = a;
      },
      [&](size_t i) { data[i] = Codec::Divide(data[i], world_size); });
}

std::string Describe(std::string_view call, DataType type, ReduceOp op, size_t count) {
  return absl::StrFormat("%s(%s, %s, %u elements)", call, DataTypeName(type), ReduceOpName(op),
                         count);
}

template <typename Codec, typename Op>
void LaunchReduce(void* inout, const void* in, size_t count, cudaStream_t stream) {
  using T = typename Codec::Stored;
  const bool vectorised = internal::Aligned16(inout) && internal::Aligned16(in);
  const size_t items = vectorised ? count / (16 / sizeof(T)) + 16 / sizeof(T) : count;
  ReduceKernel<Codec, Op><<<internal::GridBlocks(items), internal::kThreads, 0, stream>>>(
      static_cast<T*>(inout), static_cast<const T*>(in), count, vectorised);
}

template <typename Op>
void LaunchForType(void* inout, const void* in, size_t count, DataType type, cudaStream_t stream) {
  switch (type) {
    case DataType::kFloat32:
      return LaunchReduce<Native<float>, Op>(inout, in, count, stream);
    case DataType::kFloat64:
      return LaunchReduce<Native<double>, Op>(inout, in, count, stream);
    case DataType::kFloat16:
      return LaunchReduce<Half, Op>(inout, in, count, stream);
    case DataType::kBFloat16:
      return LaunchReduce<BFloat16, Op>(inout, in, count, stream);
    case DataType::kInt32:
      return LaunchReduce<Native<int32_t>, Op>(inout, in, count, stream);
    case DataType::kInt64:
      return LaunchReduce<Native<int64_t>, Op>(inout, in, count, stream);
  }
}

template <typename Codec>
void LaunchFinalize(void* data, size_t count, int world_size, cudaStream_t stream) {
  using T = typename Codec::Stored;
  const bool vectorised = internal::Aligned16(data);
  const size_t items = vectorised ? count / (16 / sizeof(T)) + 16 / sizeof(T) : count;
  FinalizeKernel<Codec><<<internal::GridBlocks(items), internal::kThreads, 0, stream>>>(
      static_cast<T*>(data), count, world_size, vectorised);
}

}  // namespace

absl::Status DeviceReduce(void* inout, const void* in, size_t count, DataType type, ReduceOp op,
                          cudaStream_t stream) {
  if (!IsValidDataType(type) || !IsValidReduceOp(op)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("DeviceReduce: invalid data type %d or reduce op %d",
                        static_cast<int>(type), static_cast<int>(op)));
  }
  if (count == 0) return absl::OkStatus();
  if (inout == nullptr || in == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe("DeviceReduce", type, op, count), ": null buffer"));
  }
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      LaunchForType<SumOp>(inout, in, count, type, stream);
      break;
    case ReduceOp::kMin:
      LaunchForType<MinOp>(inout, in, count, type, stream);
      break;
    case ReduceOp::kMax:
      LaunchForType<MaxOp>(inout, in, count, type, stream);
      break;
  }
  return CudaStatus(cudaGetLastError(),
                    absl::StrCat(Describe("DeviceReduce", type, op, count), ": kernel launch"));
}

absl::Status DeviceFinalize(void* data, size_t count, DataType type, ReduceOp op, int world_size,
                            cudaStream_t stream) {
  if (!IsValidDataType(type) || !IsValidReduceOp(op)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("DeviceFinalize: invalid data type %d or reduce op %d",
                        static_cast<int>(type), static_cast<int>(op)));
  }
  if (world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(Describe("DeviceFinalize", type, op, count),
                                                   ": world size ", world_size, " < 1"));
  }
  if (op != ReduceOp::kAvg || count == 0) return absl::OkStatus();
  if (data == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe("DeviceFinalize", type, op, count), ": null buffer"));
  }
  switch (type) {
    case DataType::kFloat32:
      LaunchFinalize<Native<float>>(data, count, world_size, stream);
      break;
    case DataType::kFloat64:
      LaunchFinalize<Native<double>>(data, count, world_size, stream);
      break;
    case DataType::kFloat16:
      LaunchFinalize<Half>(data, count, world_size, stream);
      break;
    case DataType::kBFloat16:
      LaunchFinalize<BFloat16>(data, count, world_size, stream);
      break;
    case DataType::kInt32:
      LaunchFinalize<Native<int32_t>>(data, count, world_size, stream);
      break;
    case DataType::kInt64:
      LaunchFinalize<Native<int64_t>>(data, count, world_size, stream);
      break;
  }
  return CudaStatus(cudaGetLastError(),
                    absl::StrCat(Describe("DeviceFinalize", type, op, count), ": kernel launch"));
}

}  // namespace crosslink::collectives::cuda
