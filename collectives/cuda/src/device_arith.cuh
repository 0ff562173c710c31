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

// --- division by the world size, as the host divides ----------------------------------------
// kAvg's finalisation divides every element by n = world size. IEEE division (__fdiv_rn,
// __ddiv_rn) is a long instruction sequence that made the finalisation compute-bound; dividing
// by one n over and over allows Markstein's scheme instead: with r = RN(1/n), q = RN(x * r) is
// within one ulp of x / n, the remainder x - q * n is exact in one FMA, and RN(q + rem * r) is
// then the correctly rounded quotient (Markstein 1990; Handbook of Floating-Point Arithmetic,
// 2nd ed., Theorem 4.10), i.e. exactly what IEEE division returns. The theorem needs the
// remainder and the quotient to stay clear of underflow and overflow, so the fast path takes
// only x whose exponent is well inside the normal range (and n <= 2^24, exact in float32); zeros
// are their own quotient (the FMAs would lose the sign of -0), and everything else (subnormals,
// the range's edges, infinities, NaNs) takes the IEEE division with the host's NaN rule.
// device_reduce_test compares every fp16 and bf16 word and random float32/float64 bits with
// the host's division for many n; the scheme itself was checked on the host (x86 FMA) for every
// float32 significand against every odd n below 2^11 (an even n divides like its odd part), and
// for 4 * 10^8 random float64 values against n = 1..4097, without a single differing bit.
template <typename T>
struct Divisor {
  T n;
  T reciprocal;    // RN(1 / n), computed by the host with IEEE division
  bool markstein;  // n <= 2^24: the fast path's range argument holds
};

__device__ __forceinline__ float MarksteinDivide(float x, Divisor<float> d) {
  const float q = __fmul_rn(x, d.reciprocal);
  const float rem = __fmaf_rn(-q, d.n, x);
  return __fmaf_rn(rem, d.reciprocal, q);
}
__device__ __forceinline__ double MarksteinDivide(double x, Divisor<double> d) {
  const double q = __dmul_rn(x, d.reciprocal);
  const double rem = __fma_rn(-q, d.n, x);
  return __fma_rn(rem, d.reciprocal, q);
}

// The rare cases out of line, so that the unrolled fast paths stay small.
static __device__ __noinline__ float DivideOutOfRange(float x, float n) { return HostDiv(x, n); }
static __device__ __noinline__ double DivideOutOfRange(double x, double n) { return HostDiv(x, n); }

__device__ __forceinline__ float DivideByCount(float x, Divisor<float> d) {
  // Biased exponents 64..190: |x| in [2^-63, 2^64), quotients and remainders far from both ends.
  const uint32_t exponent = (__float_as_uint(x) >> 23) & 0xFFu;
  if (d.markstein && exponent - 64u <= 190u - 64u) return MarksteinDivide(x, d);
  if (x == 0.0f) return x;
  return DivideOutOfRange(x, d.n);
}
__device__ __forceinline__ double DivideByCount(double x, Divisor<double> d) {
  // Biased exponents 512..1534: |x| in [2^-511, 2^512).
  const uint64_t exponent = (static_cast<uint64_t>(__double_as_longlong(x)) >> 52) & 0x7FFu;
  if (d.markstein && exponent - 512u <= 1534u - 512u) return MarksteinDivide(x, d);
  if (x == 0.0) return x;
  return DivideOutOfRange(x, d.n);
}

// --- launch geometry ---------------------------------------------------------------------------
// 256 threads: enough warps per block to hide memory latency, small enough for full occupancy.
inline constexpr int kThreads = 256;

// Blocks for a grid-stride loop over `items` work items of which each thread takes
// `items_per_thread` per round: as many as the device holds resident at once (every SM full, one
// wave, no tail of late blocks), fewer when there is less work, at least 1.
unsigned GridBlocks(size_t items, int items_per_thread = 1);

// N elements of T loaded and stored as one vector instruction (8 or 16 bytes).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

inline bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
inline bool AlignedTo(const void* p, uintptr_t bytes) {
  return (reinterpret_cast<uintptr_t>(p) & (bytes - 1)) == 0;
}

// The loop every streaming kernel runs: items [0, items) in rounds; in a round a thread takes
// kUnroll items blockDim.x apart (so each of a warp's accesses is one contiguous run), issues all
// their loads (load(i) -> V) before any store (store(i, V) computes and writes), which keeps
// kUnroll memory requests in flight per thread, what streaming at full HBM bandwidth needs.
template <int kUnroll, typename V, typename LoadFn, typename StoreFn>
__device__ __forceinline__ void StreamItems(size_t items, LoadFn load, StoreFn store) {
  const size_t span = static_cast<size_t>(blockDim.x) * kUnroll;
  const size_t stride = span * gridDim.x;
  for (size_t base = blockIdx.x * span + threadIdx.x; base < items; base += stride) {
    if (base + (kUnroll - 1) * static_cast<size_t>(blockDim.x) < items) {
      V v[kUnroll];
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) v[k] = load(base + k * static_cast<size_t>(blockDim.x));
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) store(base + k * static_cast<size_t>(blockDim.x), v[k]);
    } else {
      for (int k = 0; k < kUnroll; ++k) {
        const size_t i = base + k * static_cast<size_t>(blockDim.x);
        if (i < items) store(i, load(i));
      }
    }
  }
}

// The elements after the last whole item, one per thread: [begin, count).
template <typename ElementFn>
__device__ __forceinline__ void StreamTail(size_t begin, size_t count, ElementFn element) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = begin + static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    element(i);
  }
}

}  // namespace crosslink::collectives::cuda::internal

#endif  // CROSSLINK_COLLECTIVES_CUDA_SRC_DEVICE_ARITH_CUH_
