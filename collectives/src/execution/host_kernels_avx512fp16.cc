// The host kernels for AVX-512 with AVX512_FP16 (Sapphire Rapids and later): AVX-512's, with
// the fp16 reductions and kAvg finalisation in native fp16 arithmetic where that equals the
// float32 route bit for bit (host_word_kernels.inc). AVX512_BF16 is deliberately not in the
// target: host_kernels.cc takes the bf16 kernels from avx512bf16's table when the CPU has it.
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
        "avx512f,avx512bw,avx512dq,avx512vl,avx512fp16,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2"))), \
    apply_to = function)
#else
#pragma GCC target( \
    "avx512f,avx512bw,avx512dq,avx512vl,avx512fp16,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2")
#endif
#define CROSSLINK_HOST_ISA_NAMESPACE avx512fp16
#define CROSSLINK_HOST_ISA_AVX512 1
// clang 14's <immintrin.h> declares the AVX512_FP16 intrinsics only under -mavx512fp16, which the
// build never passes (host_kernels.inc says why): there this set runs AVX-512's fp16 kernels (the
// same bits, without the native arithmetic). GCC declares them for the target pragma.
#if !defined(__clang__) || defined(__AVX512FP16__)
#define CROSSLINK_HOST_ISA_AVX512FP16 1
#endif
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
namespace avx512fp16 {
const HostKernels& Kernels() { return baseline::Kernels(); }
}  // namespace avx512fp16
}  // namespace crosslink::collectives::host_kernels_internal
#endif
