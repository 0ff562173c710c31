// The reduction and kAvg finalisation kernels behind device_reduce.h. One template kernel per
// (element type, operation): a grid-stride loop over 16-byte packs when both buffers are 16-byte
// aligned, then the remaining elements one by one, all in one launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
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

constexpr int kMaxDevices = 64;

unsigned GridBlocks(size_t items, int items_per_thread) {
  // Resident blocks per device, looked up once per device ordinal: the attribute queries cost
  // more than a small kernel's launch.
  static std::atomic<int> resident[kMaxDevices] = {};
  int device = 0;
  int blocks = 0;
  if (cudaGetDevice(&device) == cudaSuccess && device >= 0 && device < kMaxDevices) {
    blocks = resident[device].load(std::memory_order_relaxed);
  }
  if (blocks == 0) {
    int sms = 0, threads_per_sm = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&threads_per_sm, cudaDevAttrMaxThreadsPerMultiProcessor, device) !=
            cudaSuccess ||
        sms <= 0 || threads_per_sm < kThreads) {
      // The launch that follows reports the error; any positive grid is valid until then.
      cudaGetLastError();
      return 1;
    }
    blocks = sms * (threads_per_sm / kThreads);
    if (device >= 0 && device < kMaxDevices) {
      resident[device].store(blocks, std::memory_order_relaxed);
    }
  }
  const size_t per_block = static_cast<size_t>(kThreads) * items_per_thread;
  const size_t wanted = (items + per_block - 1) / per_block;
  return static_cast<unsigned>(wanted == 0 ? 1 : std::min<size_t>(wanted, blocks));
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

// Element codecs: native types combine as themselves; 16-bit words widen to float32. Divide is
// the kAvg finalisation's x / n with the host's rounding (device_arith.cuh: DivideByCount).
template <typename T>
struct Native {
  using Stored = T;
  using Div = std::conditional_t<std::is_floating_point_v<T>, internal::Divisor<T>, T>;
  static Div MakeDivisor(int world_size) {
    if constexpr (std::is_floating_point_v<T>) {
      const T n = static_cast<T>(world_size);
      return {n, T{1} / n, world_size <= (1 << 24)};
    } else {
      return static_cast<T>(world_size);
    }
  }
  template <typename Op>
  __device__ static T Combine(T a, T b) {
    return Op::Apply(a, b);
  }
  __device__ static T Divide(T a, Div d) {
    if constexpr (std::is_floating_point_v<T>) {
      return internal::DivideByCount(a, d);
    } else {
      return a / d;
    }
  }
};
// fp16 and bf16 words: widened to float32, combined or divided, rounded back (Format: the pair
// of conversions).
template <typename Format>
struct Word16 {
  using Stored = uint16_t;
  using Div = internal::Divisor<float>;
  static Div MakeDivisor(int world_size) { return Native<float>::MakeDivisor(world_size); }
  template <typename Op>
  __device__ static uint16_t Combine(uint16_t a, uint16_t b) {
    return Format::From(Op::Apply(Format::To(a), Format::To(b)));
  }
  __device__ static uint16_t Divide(uint16_t a, Div d) {
    return Format::From(internal::DivideByCount(Format::To(a), d));
  }
};
struct HalfFormat {
  __device__ static float To(uint16_t h) { return internal::HalfToFloat(h); }
  __device__ static uint16_t From(float f) { return internal::FloatToHalf(f); }
};
struct BFloat16Format {
  __device__ static float To(uint16_t b) { return internal::BFloat16ToFloat(b); }
  __device__ static uint16_t From(float f) { return internal::FloatToBFloat16(f); }
};
using Half = Word16<HalfFormat>;
using BFloat16 = Word16<BFloat16Format>;

// Both kernels stream 16-byte packs (kN elements) when every buffer is 16-byte aligned, several
// packs in flight per thread (StreamItems), and the elements after the last pack (or all of them,
// unaligned) one by one.
constexpr int kReduceUnroll = 2;    // two operands per pack: 4 loads in flight per thread
constexpr int kFinalizeUnroll = 4;  // one operand

template <typename Codec, typename Op>
__global__ void ReduceKernel(typename Codec::Stored* __restrict__ inout,
                             const typename Codec::Stored* __restrict__ in, size_t count,
                             bool vectorised) {
  using T = typename Codec::Stored;
  constexpr int kN = 16 / sizeof(T);
  using P = Pack<T, kN>;
  struct Operands {
    P a, b;
  };
  const size_t packs = vectorised ? count / kN : 0;
  P* __restrict__ out_p = reinterpret_cast<P*>(inout);
  const P* __restrict__ in_p = reinterpret_cast<const P*>(in);
  internal::StreamItems<kReduceUnroll, Operands>(
      packs,
      [&](size_t i) {
        return Operands{out_p[i], in_p[i]};
      },
      [&](size_t i, Operands o) {
#pragma unroll
        for (int k = 0; k < kN; ++k) o.a.v[k] = Codec::template Combine<Op>(o.a.v[k], o.b.v[k]);
        out_p[i] = o.a;
      });
  internal::StreamTail(packs * kN, count,
                       [&](size_t i) { inout[i] = Codec::template Combine<Op>(inout[i], in[i]); });
}

template <typename Codec>
__global__ void FinalizeKernel(typename Codec::Stored* __restrict__ data, size_t count,
                               typename Codec::Div divisor, bool vectorised) {
  using T = typename Codec::Stored;
  constexpr int kN = 16 / sizeof(T);
  using P = Pack<T, kN>;
  const size_t packs = vectorised ? count / kN : 0;
  P* __restrict__ p = reinterpret_cast<P*>(data);
  internal::StreamItems<kFinalizeUnroll, P>(
      packs, [&](size_t i) { return p[i]; },
      [&](size_t i, P a) {
#pragma unroll
        for (int k = 0; k < kN; ++k) a.v[k] = Codec::Divide(a.v[k], divisor);
        p[i] = a;
      });
  internal::StreamTail(packs * kN, count,
                       [&](size_t i) { data[i] = Codec::Divide(data[i], divisor); });
}

std::string Describe(std::string_view call, DataType type, ReduceOp op, size_t count) {
  return absl::StrFormat("%s(%s, %s, %u elements)", call, DataTypeName(type), ReduceOpName(op),
                         count);
}

template <typename Codec, typename Op>
void LaunchReduce(void* inout, const void* in, size_t count, cudaStream_t stream) {
  using T = typename Codec::Stored;
  const bool vectorised = internal::Aligned16(inout) && internal::Aligned16(in);
  const unsigned grid = vectorised ? internal::GridBlocks(count / (16 / sizeof(T)), kReduceUnroll)
                                   : internal::GridBlocks(count);
  ReduceKernel<Codec, Op><<<grid, internal::kThreads, 0, stream>>>(
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
  const unsigned grid = vectorised ? internal::GridBlocks(count / (16 / sizeof(T)), kFinalizeUnroll)
                                   : internal::GridBlocks(count);
  FinalizeKernel<Codec><<<grid, internal::kThreads, 0, stream>>>(
      static_cast<T*>(data), count, Codec::MakeDivisor(world_size), vectorised);
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
