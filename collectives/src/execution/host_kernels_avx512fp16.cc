// The host kernels for AVX-512 with AVX512_FP16 (Sapphire Rapids and later): AVX-512's, with
// the fp16 reductions and kAvg finalisation in native fp16 arithmetic where that equals the
// float32 route bit for bit (host_word_kernels.inc, host_float_division.inc). AVX512_BF16 is
// deliberately not in the target: host_kernels.cc takes the bf16 kernels from avx512bf16's table
// when the CPU has it.
#define CROSSLINK_HOST_ISA_NAMESPACE avx512fp16
#define CROSSLINK_HOST_ISA_TARGET \
  "avx512f,avx512bw,avx512dq,avx512vl,avx512fp16,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2"
#define CROSSLINK_HOST_ISA_AVX512 1
// clang 14's <immintrin.h> declares the AVX512_FP16 intrinsics only under -mavx512fp16, which the
// build never passes (host_kernels.inc says why): there this set runs AVX-512's fp16 kernels (the
// same bits, without the native arithmetic). GCC declares them for the target pragma.
#if !defined(__clang__) || defined(__AVX512FP16__)
#define CROSSLINK_HOST_ISA_AVX512FP16 1
#endif
#include "host_kernels_for_isa.inc"
