// The host's inner loops (reductions, kAvg finalisation, the int8 and bf16 wire codecs), compiled
// once per instruction set: the x86-64 baseline (SSE2), AVX2 (with F16C and FMA; FMA only where a
// fused step is proven to give the separately rounded operations' bits, as in the kAvg division),
// AVX-512 (F, BW, DQ, VL), and two levels above it for the 16-bit float kernels: avx512bf16
// (AVX512_BF16's conversions and AVX512_VBMI's byte permutes for the bf16 kernels and codec: Zen
// 4, Sapphire Rapids and later; Cooper Lake, which lacks VBMI, runs AVX-512's) and avx512fp16
// (AVX512_FP16's native fp16 arithmetic for the fp16 kernels: Sapphire Rapids; its bf16 kernels
// are avx512bf16's where the CPU has that level too, else AVX-512's, so a CPU with FP16 but not
// BF16 still gets the level). The best set the CPU supports is chosen once, at first use, from
// CPUID (__builtin_cpu_supports and the bits themselves); the build never needs -march. Every set
// computes the same bits as the baseline (host_kernels_test compares them on random data with
// NaNs, infinities, signed zeros and subnormals, and lengths that leave every kind of tail;
// half_kernels_exhaustive_test on every 16-bit word), so ranks on different CPUs still agree bit
// for bit.
//
// CROSSLINK_HOST_ISA=baseline|avx2|avx512|avx512bf16|avx512fp16 in the environment caps the
// choice (to measure or to rule a vector path out): the widest supported set at or below the
// named one runs; a set the CPU lacks is never chosen, and an unknown value is ignored.
//
// Thread-safety: the tables are immutable after first use; the kernels are pure.
#ifndef CROSSLINK_COLLECTIVES_HOST_KERNELS_H_
#define CROSSLINK_COLLECTIVES_HOST_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/reduce.h"

namespace crosslink::collectives {

// Ordered: each level runs only where the ones below it do (avx512fp16 needs AVX-512 but not
// AVX512_BF16, see above).
enum class HostIsa : uint8_t {
  kBaseline = 0,
  kAvx2 = 1,
  kAvx512 = 2,
  kAvx512Bf16 = 3,
  kAvx512Fp16 = 4
};
inline constexpr HostIsa kAllHostIsas[] = {HostIsa::kBaseline, HostIsa::kAvx2, HostIsa::kAvx512,
                                           HostIsa::kAvx512Bf16, HostIsa::kAvx512Fp16};

const char* HostIsaName(HostIsa isa);

// Whether this CPU (and OS) runs `isa`'s code.
bool HostIsaSupported(HostIsa isa);

// The widest set this CPU supports at or below `cap` (the baseline at worst).
HostIsa WidestSupportedHostIsa(HostIsa cap);

// The set CROSSLINK_HOST_ISA's value names (HostIsaName's spelling), or false.
bool ParseHostIsa(const char* name, HostIsa* isa);

// The set the process uses: the widest supported one, capped by CROSSLINK_HOST_ISA.
HostIsa ActiveHostIsa();

struct HostKernels {
  // Indexed by static_cast<int>(DataType) and static_cast<int>(ReduceOp) (kAvg reduces as kSum).
  ReduceFn reduce[6][4];
  // kAvg's division by the world size, by DataType; see reduce.h.
  FinalizeFn finalize_avg[6];
  // int8_blockwise.h's codec.
  void (*int8_quantize)(const float* x, size_t count, float* error_feedback, int8_t* q,
                        float* scales);
  void (*int8_dequantize)(const int8_t* q, const float* scales, size_t count, float* out);
  // float32 -> bf16 words (half.h's rounding); with error_feedback non-null, x + e is encoded and
  // e becomes what the rounding lost (0 where that is not finite).
  void (*bf16_encode)(const float* x, size_t count, float* error_feedback, uint16_t* out);
  // bf16 words -> float32.
  void (*bf16_decode)(const uint16_t* in, size_t count, float* out);
};

// The kernels compiled for `isa`. Calling them where HostIsaSupported(isa) is false is undefined
// (illegal instructions); tests and benchmarks check first.
const HostKernels& HostKernelsFor(HostIsa isa);

// HostKernelsFor(ActiveHostIsa()).
const HostKernels& ActiveHostKernels();

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_HOST_KERNELS_H_
