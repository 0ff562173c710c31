// The host kernels for AVX-512 with AVX512_BF16 (Cooper Lake, Zen 4, Sapphire Rapids and later):
// AVX-512's, with the bf16 kernels and codec rounding through vcvtne2ps2bf16 where that equals
// half.h's rounding (host_word_kernels.inc).
// The optimisation options first, so that the headers' inline functions share them and can be
// inlined; the instruction set after the headers (host_kernels.inc says why).
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math", \
                     "fp-contract=off")
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/half.h"
#include "crosslink/collectives/host_kernels.h"

#if defined(__x86_64__)
// clang (the fuzz and sanitizer presets) ignores GCC's target pragma: the same set as a
// function attribute on everything host_kernels.inc defines.
#if defined(__clang__)
#pragma clang attribute push(                                                                    \
    __attribute__((target(                                                                       \
        "avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2"))), \
    apply_to = function)
#else
#pragma GCC target( \
    "avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2")
#endif
#define CROSSLINK_HOST_ISA_NAMESPACE avx512bf16
#define CROSSLINK_HOST_ISA_AVX512 1
#define CROSSLINK_HOST_ISA_AVX512BF16 1
#include "host_kernels.inc"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
// Not x86-64: HostIsaSupported is false for this set, and the table is the baseline's.
namespace crosslink::collectives::host_kernels_internal {
namespace baseline {
const HostKernels& Kernels();
}
namespace avx512bf16 {
const HostKernels& Kernels() { return baseline::Kernels(); }
}  // namespace avx512bf16
}  // namespace crosslink::collectives::host_kernels_internal
#endif
