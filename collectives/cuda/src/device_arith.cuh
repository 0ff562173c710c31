// Device-side element arithmetic shared by the kernels: the fp16/bf16 conversions of half.h and
// the NaN rules of the x86-64 host, spelled with explicitly rounded intrinsics (__fmul_rn,
// __fadd_rn, ...) so that nvcc can neither fuse them into FMAs nor flush subnormals, which is what
// makes device results bit-identical to the host's.
#ifndef CROSSLINK_COLLECTIVES_CUDA_SRC_DEVICE_ARITH_CUH_
#define CROSSLINK_COLLECTIVES_CUDA_SRC_DEVICE_ARITH_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace crosslink::collectives::cuda::internal {

// --- NaN bits as the host produces them ----------------------------------------------------
// GPU arithmetic returns one canonical NaN (0x7FFFFFFF); x86 SSE returns the first NaN operand,
// quieted, and the negative "default NaN" for invalid operations (inf - inf, 0 / 0).
__device__ __forceinline__ float HostNaN(float a, float b) {
  const uint32_t ua = __float_as_uint(a), ub = __float_as_uint(b);
  if ((ua & 0x7FFFFFFFu) > 0x7F800000u) return __uint_as_float(ua | 0x00400000u);
  if ((ub & 0x7FFFFFFFu) > 0x7F800000u) return __uint_as_float(ub | 0x00400000u);
  return __uint_as_float(0xFFC00000u);
}
__device__ __forceinline__ double HostNaN(double a, double b) {
  const uint64_t ua = __double_as_longlong(a), ub = __double_as_longlong(b);
  constexpr uint64_t kAbs = 0x7FFFFFFFFFFFFFFFull, kInf = 0x7FF0000000000000ull;
  constexpr uint64_t kQuiet = 0x0008000000000000ull;
  if ((ua & kAbs) > kInf) return __longlong_as_double(ua | kQuiet);
  if ((ub & kAbs) > kInf) return __longlong_as_double(ub | kQuiet);
  return __longlong_as_double(0xFFF8000000000000ull);
}

__device__ __forceinline__ float HostAdd(float a, float b) {
  const float r = __fadd_rn(a, b);
  return r != r ? HostNaN(a, b) : r;
}
__device__ __forceinline__ double HostAdd(double a, double b) {
  const double r = __dadd_rn(a, b);
  return r != r ? HostNaN(a, b) : r;
}
__device__ __forceinline__ float HostDiv(float a, float b) {
  const float r = __fdiv_rn(a, b);
  return r != r ? HostNaN(a, b) : r;
}
__device__ __forceinline__ double HostDiv(double a, double b) {
  const double r = __ddiv_rn(a, b);
  return r != r ? HostNaN(a, b) : r;
}

// --- fp16 / bf16, mirroring half.h operation for operation ----------------------------------
__device__ __forceinline__ float HalfToFloat(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  if ((h & 0x7C00u) == 0x7C00u) {
    // Infinity or NaN: the host's scaling multiply leaves infinities alone and quiets NaNs
    // keeping their payload; the GPU's multiply would return its canonical NaN instead.
    const uint32_t mantissa = static_cast<uint32_t>(h & 0x03FFu) << 13;
    return __uint_as_float(sign | 0x7F800000u | mantissa | (mantissa != 0 ? 0x00400000u : 0u));
  }
  const float normalized = __fmul_rn(__uint_as_float((two_w >> 4) + (0xE0u << 23)), 0x1.0p-112f);
  const float denormalized = __fsub_rn(__uint_as_float((two_w >> 17) | (126u << 23)), 0.5f);
  const uint32_t bits =
      sign | (two_w < (1u << 27) ? __float_as_uint(denormalized) : __float_as_uint(normalized));
  return __uint_as_float(bits);
}

__device__ __forceinline__ uint16_t FloatToHalf(float f) {
  const uint32_t w = __float_as_uint(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  // (f < 0 ? -f : f) as the host writes it; for NaN the result is discarded below.
  const float magnitude = __uint_as_float(w & 0x7FFFFFFFu);
  float base = __fmul_rn(__fmul_rn(magnitude, 0x1.0p+112f), 0x1.0p-110f);
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = __fadd_rn(__uint_as_float((bias >> 1) + 0x07800000u), base);
  const uint32_t bits = __float_as_uint(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

__device__ __forceinline__ float BFloat16ToFloat(uint16_t b) {
  return __uint_as_float(static_cast<uint32_t>(b) << 16);
}

__device__ __forceinline__ uint16_t FloatToBFloat16(float f) {
  const uint32_t u = __float_as_uint(f);
  const bool is_nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t nan = (u >> 16) | 0x0040u;
  return static_cast<uint16_t>(is_nan ? nan : rounded);
}

// --- launch geometry ---------------------------------------------------------------------------
// 256 threads: enough warps per block to hide memory latency, small enough for full occupancy.
inline constexpr int kThreads = 256;

// Blocks for `items` work items in a grid-stride loop: at most 16 blocks per SM (enough resident
// warps to saturate HBM; more blocks only add scheduling), at least 1.
unsigned GridBlocks(size_t items);

// 16 bytes of T, loaded and stored as one vector instruction.
template <typename T, int N>
struct alignas(16) Pack {
  T v[N];
};

inline bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace crosslink::collectives::cuda::internal

#endif  // CROSSLINK_COLLECTIVES_CUDA_SRC_DEVICE_ARITH_CUH_
