// Device-side element arithmetic shared by the kernels: the fp16/bf16 conversions of half.h and
// the NaN rules of the x86-64 host, spelled with explicitly rounded intrinsics (__fmul_rn,
// __fadd_rn, ...) so that nvcc can neither fuse them into FMAs nor flush subnormals, which is what
// makes device results bit-identical to the host's.
#ifndef CROSSLINK_COLLECTIVES_CUDA_SRC_DEVICE_ARITH_CUH_
#define CROSSLINK_COLLECTIVES_CUDA_SRC_DEVICE_ARITH_CUH_

#include <cuda_fp16.h>
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

// --- fp16 / bf16, bit for bit as half.h ----------------------------------------------------
// half.h converts with branch-free float arithmetic (after Maratyszcza's FP16 library) that
// amounts to IEEE round-to-nearest-even, subnormals, overflow to infinity and signed zeros
// included. The hardware conversions cvt.f32.f16 (exact) and cvt.rn.f16.f32 (round to nearest
// even; no .ftz, so subnormal fp16 results and inputs are kept) are the same IEEE functions, so
// for every non-NaN input they give half.h's bits in one instruction instead of the ~15 integer
// and float operations of the emulation, which made fp16 kernels compute-bound. Only NaN bits
// differ: the hardware returns a canonical NaN, the host keeps the payload (fp16 -> float32:
// quieted, payload shifted up) or returns 0x7E00 with the sign (float32 -> fp16), so NaN inputs
// take a select. Checked on the host for all 2^16 fp16 and all 2^32 float32 inputs: half.h equals
// x86 F16C round-to-nearest conversion for every non-NaN input, and this NaN rule equals half.h.
__device__ __forceinline__ float HalfToFloat(uint16_t h) {
  const float converted = __half2float(__ushort_as_half(h));
  // sign | quiet exponent | payload << 13, what the host's scaling multiply makes of a NaN, in two
  // operations: the sign-extended word shifted by 13 puts the payload at bits 13-22 and copies of
  // the sign at 28-31, and the OR sets bits 22-30 (quiet bit and all-ones exponent), so only the
  // sign (bit 31) and payload survive from the word.
  const uint32_t nan =
      (static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(h))) << 13) | 0x7FC00000u;
  return (h & 0x7FFFu) > 0x7C00u ? __uint_as_float(nan) : converted;
}

__device__ __forceinline__ uint16_t FloatToHalf(float f) {
  const uint16_t converted = __half_as_ushort(__float2half_rn(f));
  const uint32_t w = __float_as_uint(f);
  const uint16_t nan = static_cast<uint16_t>(((w >> 16) & 0x8000u) | 0x7E00u);
  return (w & 0x7FFFFFFFu) > 0x7F800000u ? nan : converted;
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
